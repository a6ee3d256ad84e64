"""Celery tasks of file jobs (``labelling.models.FileJob``): big imports and exports on
the ``default`` queue, label sets and also prompt sets and run datasets, because the job
model lives here (training may import labelling, never the other way round, so these
tasks cannot sit in ``training/tasks.py``: ``training.services`` imports that module).

Thin: they take a job's primary key and call the service. A job claims its row first
(queued → running), so a redelivered task does nothing; an import is one transaction,
so a worker killed in the middle leaves no label set behind.
"""

from __future__ import annotations

from cai_web.celery import app


@app.task(name="labelling.labelset_import_file", queue="default", acks_late=True, max_retries=0)
def labelset_import_file(job_id: int) -> str | None:
    from labelling.services.imports import labelset_import_run

    job = labelset_import_run(job_id)
    return job.status if job else None


@app.task(name="labelling.labelset_export_file", queue="default", acks_late=True, max_retries=0)
def labelset_export_file(job_id: int) -> str | None:
    from labelling.services.exports import labelset_export_run

    job = labelset_export_run(job_id)
    return job.status if job else None


@app.task(name="labelling.promptset_import_file", queue="default", acks_late=True, max_retries=0)
def promptset_import_file(job_id: int) -> str | None:
    """Parse and store a prompt file the upload stored on disk."""
    from training.services.prompt_sets import promptset_import_run

    job = promptset_import_run(job_id)
    return job.status if job else None


@app.task(name="labelling.dataset_export_file", queue="default", acks_late=True, max_retries=0)
def dataset_export_file(job_id: int) -> str | None:
    """Build a run's Hugging Face ``datasets`` zip as a file."""
    from training.exports import dataset_export_run

    job = dataset_export_run(job_id)
    return job.status if job else None


@app.task(name="labelling.reap_stale_file_jobs", queue="default", acks_late=True, max_retries=0)
def reap_stale_file_jobs(stale_seconds: int | None = None) -> list[int]:
    """Re-queue imports and exports whose worker stopped beating (beat runs this with the
    shard reaper); each gets its task again once the re-queue is committed.

    Not on SQLite: a job's heartbeat cannot be written there while its import holds the
    database's one write lock, so every long import would look dead."""
    import logging

    from django.db import connection, transaction

    from labelling.services.filejobs import filejob_send, filejobs_requeue_stale

    if connection.vendor == "sqlite":
        return []
    with transaction.atomic():
        requeued = filejobs_requeue_stale(stale_seconds=stale_seconds)
        for job_id in requeued:
            filejob_send(job_id)
    if requeued:
        logging.getLogger(__name__).warning("re-queued stale file jobs %s", requeued)
    return requeued
