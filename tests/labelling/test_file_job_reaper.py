"""The reaper of file jobs whose worker died: a running import or export that stopped
beating goes back to the queue (and then runs to the end with exact counts), one that
keeps beating is left alone, and one that killed its worker too often fails with a
message. A running job beats from a thread of its own (PostgreSQL)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from labelling import formats
from labelling.models import AILabel, FileJob, LabelSet
from labelling.services import filejobs
from labelling.services.imports import labelset_import_run, labelset_import_start

from .labelling_fixtures import hand_records


def start_import(team, user, tmp_path: Path, name: str = "Dump") -> FileJob:
    upload = tmp_path / f"{name}.jsonl"
    upload.write_text(formats.export_jsonl(hand_records()))
    with TestCase.captureOnCommitCallbacks(execute=False):
        return labelset_import_start(
            team=team,
            user=user,
            name=name,
            fmt="jsonl",
            upload_path=str(upload),
            upload_name=upload.name,
            upload_size=upload.stat().st_size,
        )


def as_if_its_worker_died(job: FileJob, seconds_ago: int = 600) -> FileJob:
    """The state a worker killed mid-import leaves: claimed, then silent."""
    assert filejobs.filejob_claim(job.pk) is not None
    FileJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    return FileJob.objects.get(pk=job.pk)


@pytest.mark.django_db
def test_a_silent_running_import_is_requeued_and_then_imports_everything(team, author, tmp_path):
    job = as_if_its_worker_died(start_import(team, author, tmp_path))
    with TestCase.captureOnCommitCallbacks(execute=False) as sent:
        assert filejobs.filejobs_requeue_stale(stale_seconds=60) == [job.pk]
        filejobs.filejob_send(job.pk)
    assert len(sent) == 1  # the task goes out again once the re-queue is committed
    job.refresh_from_db()
    assert job.status == FileJob.Status.QUEUED and job.params["workers_lost"] == 1
    assert Path(job.upload_path).exists()  # the upload is kept for the next worker
    assert filejobs.filejobs_requeue_stale(stale_seconds=60) == []  # queued: not the reaper's

    job = labelset_import_run(job.pk)
    assert job is not None and job.status == FileJob.Status.DONE, (job.error, job.problems)
    label_set = LabelSet.objects.get(pk=job.result_id)
    assert label_set.ai_label_count == len(hand_records())
    assert AILabel.objects.filter(label_set=label_set).count() == len(hand_records())


@pytest.mark.django_db
def test_a_job_that_beats_is_left_alone_and_one_that_kills_workers_fails(team, author, tmp_path):
    alive = filejobs.filejob_claim(start_import(team, author, tmp_path, "Alive").pk)
    poison = as_if_its_worker_died(start_import(team, author, tmp_path, "Poison"))
    FileJob.objects.filter(pk=poison.pk).update(
        params={**poison.params, "workers_lost": filejobs.MAX_FILEJOB_ATTEMPTS - 1}
    )
    assert filejobs.filejobs_requeue_stale(stale_seconds=60) == []
    assert alive is not None
    assert FileJob.objects.get(pk=alive.pk).status == FileJob.Status.RUNNING
    poison.refresh_from_db()
    assert poison.status == FileJob.Status.FAILED
    assert f"stopped {filejobs.MAX_FILEJOB_ATTEMPTS} times" in poison.error
    assert not LabelSet.objects.exists()


def test_the_beat_schedule_runs_the_file_job_reaper():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "labelling.reap_stale_file_jobs" in tasks
    assert set(filejobs.TASK_OF_KIND) == set(FileJob.Kind)


@pytest.mark.django_db(transaction=True)
def test_a_running_job_beats_from_its_own_thread(team, author, tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the heartbeat thread runs on PostgreSQL (SQLite has one writer)")
    settings.RUN_HEARTBEAT_SECONDS = 0.2
    job = as_if_its_worker_died(start_import(team, author, tmp_path))
    before = FileJob.objects.get(pk=job.pk).updated_at
    progress = filejobs.JobProgress(job)
    try:
        deadline = time.monotonic() + 10
        while FileJob.objects.get(pk=job.pk).updated_at == before:
            assert time.monotonic() < deadline, "no heartbeat in 10 s"
            time.sleep(0.1)
    finally:
        progress.close()
    assert filejobs.filejobs_requeue_stale(stale_seconds=60) == []  # it is alive
