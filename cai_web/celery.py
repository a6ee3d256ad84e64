"""The Celery app. Workers: ``celery -A cai_web.celery worker -Q default,gpu``.

Tasks bind to this app with ``@app.task`` (not ``shared_task``), so a web process
that sends one has this configured app whether or not anything imported it before."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")

app = Celery("cai_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
