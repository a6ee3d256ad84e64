"""cai_web: settings, URLs, the Celery app, teams and memberships."""

from .celery import app as celery_app

__all__ = ["celery_app"]
