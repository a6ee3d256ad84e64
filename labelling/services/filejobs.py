"""File jobs (big imports and exports done by a worker): start, claim, progress, end.

A job's import runs inside one transaction, so its progress cannot be written through
the transaction's own connection (nobody would see it before the end). On PostgreSQL
:class:`JobProgress` writes it through a second connection in autocommit; SQLite allows
one writer at a time, so there the bar moves during the check and jumps at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from cai_web.models import Team

from ..models import FileJob
from .common import LabellingError


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


class JobProgress:
    """Progress of one job, visible to the page even from inside the job's transaction."""

    def __init__(self, job: FileJob) -> None:
        self.job = job
        self._side: Any = None

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
        if self._side is not None:
            self._side.close()
            self._side = None
