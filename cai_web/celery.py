"""The Celery app. Workers: ``celery -A cai_web worker -Q default,gpu``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")

app = Celery("cai_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
