"""cai_web: settings, URLs, the Celery app, teams and memberships.

The Celery app (``cai_web.celery``) is not imported here: a web process loads it
only when it first sends a task (each ``tasks`` module binds its tasks to it), so
serving pages does not pay for Celery, kombu and amqp at start-up. Workers name it:
``celery -A cai_web.celery worker``.
"""
