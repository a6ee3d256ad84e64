"""File jobs (big imports and exports done by a worker): start, claim, progress, end.

A job's import runs inside one transaction, so its progress cannot be written through
the transaction's own connection (nobody would see it before the end). On PostgreSQL
:class:`JobProgress` writes it through a second connection in autocommit; SQLite allows
one writer at a time, so there the bar moves during the check and jumps at the end.

A running job beats (``FileJob.updated_at``) from a thread of its own every
``RUN_HEARTBEAT_SECONDS``, whatever its batches do; :func:`filejobs_requeue_stale`
(the beat schedule's ``labelling.reap_stale_file_jobs``) puts a job whose worker went
silent back in the queue. Nothing of it was kept: an import is one transaction, which
the database rolls back when the dead worker's connection goes, and an export rewrites
its file from the start.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections, transaction
from django.utils import timezone

from cai_web.models import Team

from ..models import FileJob
from .common import LabellingError

logger = logging.getLogger(__name__)

# The task that does each kind of job (sent by name: the services never import tasks).
TASK_OF_KIND = {
    FileJob.Kind.LABEL_IMPORT: "labelling.labelset_import_file",
    FileJob.Kind.LABEL_EXPORT: "labelling.labelset_export_file",
    FileJob.Kind.PROMPT_IMPORT: "labelling.promptset_import_file",
    FileJob.Kind.DATASET_EXPORT: "labelling.dataset_export_file",
}
# A job whose worker died this many times fails instead of going back to the queue:
# something in it (the file) kills workers, and a person should look.
MAX_FILEJOB_ATTEMPTS = 3


class JobCancelled(Exception):
    """Someone cancelled the job while it ran; its transaction is rolled back."""


def filejob_create(
    *,
    team: Team,
    user: Any,
    kind: str,
    params: dict[str, Any],
    upload_path: str = "",
    upload_name: str = "",
) -> FileJob:
    return FileJob.objects.create(
        team=team,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        kind=kind,
        params=params,
        upload_path=upload_path,
        upload_name=upload_name,
    )


def filejob_enqueue(job: FileJob, task_name: str) -> None:
    """Send the job's task (by name, on ``default``) once the job row is committed.

    By name, so the services never import the task modules that import them."""

    def send() -> None:
        from cai_web.celery import app

        app.send_task(task_name, args=[job.pk], queue="default")

    transaction.on_commit(send)


def filejob_claim(job_id: int) -> FileJob | None:
    """Mark a queued job running; None when another worker has it or it is over."""
    if not FileJob.objects.filter(pk=job_id, status=FileJob.Status.QUEUED).update(
        status=FileJob.Status.RUNNING, updated_at=timezone.now()
    ):
        return None
    return FileJob.objects.get(pk=job_id)


def filejob_cancel(*, job: FileJob) -> bool:
    """Cancel a queued or running job; its worker rolls back at its next batch."""
    changed = FileJob.objects.filter(pk=job.pk, status__in=FileJob.ACTIVE).update(
        status=FileJob.Status.CANCELLED, finished_at=timezone.now()
    )
    if not changed:
        raise LabellingError("This job is over; there is nothing to cancel.")
    job.refresh_from_db()  # its task removes the upload when it sees the cancellation
    return True


def filejob_end(
    job: FileJob,
    *,
    status: str,
    problems: list[str] | None = None,
    problem_count: int = 0,
    error: str = "",
    result_id: int | None = None,
    artifact_path: str = "",
    artifact_name: str = "",
) -> int:
    """Record the end of a job (not over a cancellation; 0 then) and remove its upload."""
    fields: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "problems": problems or [],
        "problem_count": problem_count,
        "error": error[:4000],
        "stage": "",
    }
    if result_id is not None:
        fields["result_id"] = result_id
    if artifact_path:
        fields["artifact_path"] = artifact_path
        fields["artifact_name"] = artifact_name
    if status == FileJob.Status.DONE:
        fields["done"] = job.total
    changed = (
        FileJob.objects.filter(pk=job.pk).exclude(status=FileJob.Status.CANCELLED).update(**fields)
    )
    if job.upload_path:
        path = job.upload_path
        transaction.on_commit(lambda: _remove(path))  # at once outside a transaction
    return changed


def filejob_release(job: FileJob) -> None:
    """A cancelled job's task, after rolling back: the job stays cancelled (whoever
    cancelled it may have shared the rolled-back connection, as a test does) and its
    upload is removed."""
    FileJob.objects.filter(pk=job.pk).update(
        status=FileJob.Status.CANCELLED, stage="", finished_at=timezone.now()
    )
    if job.upload_path:
        _remove(job.upload_path)


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def filejobs_requeue_stale(*, stale_seconds: int | None = None, now: Any = None) -> list[int]:
    """Put back in the queue the running jobs whose worker stopped beating; return their
    ids (the reaper task sends each its task again once this is committed).

    After ``MAX_FILEJOB_ATTEMPTS`` lost workers the job fails with a message instead.
    Each change is fenced on the job's last beat: a worker that beats again in between
    (it was only slow) keeps its job.
    """
    stale_seconds = settings.RUN_HEARTBEAT_STALE_SECONDS if stale_seconds is None else stale_seconds
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=stale_seconds)
    requeued: list[int] = []
    stale = FileJob.objects.filter(status=FileJob.Status.RUNNING, updated_at__lt=cutoff)
    for job in stale.only("pk", "params", "updated_at", "kind"):
        lost = int((job.params or {}).get("workers_lost", 0)) + 1
        fenced = FileJob.objects.filter(
            pk=job.pk, status=FileJob.Status.RUNNING, updated_at=job.updated_at
        )
        params = {**(job.params or {}), "workers_lost": lost}
        if lost >= MAX_FILEJOB_ATTEMPTS or job.kind not in TASK_OF_KIND:
            fenced.update(
                status=FileJob.Status.FAILED,
                stage="",
                params=params,
                finished_at=now,
                updated_at=now,
                error=f"The worker doing this job stopped {lost} times (no sign of life for "
                f"{stale_seconds} s); nothing was kept. Start it again, or look at the file.",
            )
            continue
        if fenced.update(
            status=FileJob.Status.QUEUED, stage="queued again", params=params, updated_at=now
        ):
            requeued.append(job.pk)
    return requeued


def filejob_send(job_id: int) -> None:
    """Send a queued job's task again (after :func:`filejobs_requeue_stale`)."""
    job = FileJob.objects.filter(pk=job_id).only("pk", "kind").first()
    if job is not None:
        filejob_enqueue(job, TASK_OF_KIND[FileJob.Kind(job.kind)])


class _Beat(threading.Thread):
    """Moves the job's ``updated_at`` every ``interval`` seconds while it runs."""

    def __init__(self, job_id: int, interval: float) -> None:
        super().__init__(name=f"heartbeat-filejob-{job_id}", daemon=True)
        self.job_id, self.interval = job_id, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    FileJob.objects.filter(pk=self.job_id, status=FileJob.Status.RUNNING).update(
                        updated_at=timezone.now()
                    )
                except Exception:
                    logger.exception("heartbeat of file job %s failed", self.job_id)
                    close_old_connections()
        finally:
            connections.close_all()  # this thread's own connection


class JobProgress:
    """Progress of one job, visible to the page even from inside the job's transaction;
    and the job's heartbeat (a thread of its own) until :meth:`close`."""

    def __init__(self, job: FileJob, *, beat: bool = True) -> None:
        self.job = job
        self._side: Any = None
        interval = float(getattr(settings, "RUN_HEARTBEAT_SECONDS", 15))
        # Not on SQLite: its one writer is the job's own transaction, so a beat would
        # only wait for it (and the reaper does not run there: see reap_stale_file_jobs).
        beat = beat and interval > 0 and connection.vendor != "sqlite"
        self._beat = _Beat(job.pk, interval) if beat else None
        if self._beat is not None:
            self._beat.start()

    def update(self, *, stage: str, done: int, total: int) -> None:
        self.job.stage, self.job.done, self.job.total = stage, done, total
        if connection.in_atomic_block and connection.vendor == "postgresql":
            if self._side is None:
                main = connections[DEFAULT_DB_ALIAS]
                self._side = type(main)(dict(main.settings_dict), DEFAULT_DB_ALIAS)
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {FileJob._meta.db_table} SET stage = %s, done = %s, total = %s, "
                    "updated_at = %s WHERE id = %s",
                    [stage, done, total, timezone.now(), self.job.pk],
                )
        elif not connection.in_atomic_block or connection.vendor != "sqlite":
            FileJob.objects.filter(pk=self.job.pk).update(
                stage=stage, done=done, total=total, updated_at=timezone.now()
            )

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` when the job was cancelled (PostgreSQL sees another
        session's commit inside a transaction: READ COMMITTED)."""
        if FileJob.objects.filter(pk=self.job.pk, status=FileJob.Status.CANCELLED).exists():
            raise JobCancelled()

    def close(self) -> None:
        if self._beat is not None:
            self._beat.stopped.set()
            self._beat.join(timeout=10)
            self._beat = None
        if self._side is not None:
            self._side.close()
            self._side = None
