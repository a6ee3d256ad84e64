"""File jobs end to end: the page stores the upload, a real Celery worker (its own
process, the configured broker) imports it and builds an export; the page shows the end."""

from __future__ import annotations

import gzip
import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labelling.models import AILabel, AILabelTally, FileJob, LabelSet
from tests.training.worker_process import Worker, purge_queues, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

N = 5_000


def labels_file() -> bytes:
    rows = (
        {
            "id": f"r{i}",
            "prompt": f"prompt {i}",
            "response_a": "a",
            "response_b": "b",
            "judge": "judge-7b",
            "verdict_ab": "a" if i % 3 else "b",
            "verdict_ba": "b" if i % 5 else "a",
            "p_a_ab": (i % 10) / 10,
            "p_a_ba": (i % 7) / 7,
        }
        for i in range(N)
    )
    return gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())


def test_a_real_worker_imports_an_upload_and_builds_its_export(client_for, author, team, tmp_path):
    purge_queues()
    worker = Worker(tmp_path, extra_env={"CAI_ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR)})
    client = client_for(author)
    try:
        response = client.post(
            reverse("labelset_import", args=[team.slug]),
            {
                "name": "dump",
                "fmt": "jsonl",
                "file": SimpleUploadedFile("d.jsonl.gz", labels_file()),
            },
        )
        assert response.status_code == 302
        job = FileJob.objects.get()
        wait_for(lambda: not FileJob.objects.get(pk=job.pk).is_active, timeout=300, worker=worker)
        job.refresh_from_db()
        assert job.status == "done", (job.error, job.problems, worker.log())
        label_set = LabelSet.objects.get(pk=job.result_id)
        assert label_set.ai_label_count == N == AILabel.objects.filter(label_set=label_set).count()
        assert (
            sum(AILabelTally.objects.filter(label_set=label_set).values_list("n", flat=True)) == N
        )
        page = client.get(response["Location"], headers={"HX-Request": "true"})
        assert page.status_code == 286

        started = client.post(reverse("labelset_export", args=[team.slug, label_set.pk, "csv"]))
        export = FileJob.objects.get(kind=FileJob.Kind.LABEL_EXPORT)
        wait_for(
            lambda: not FileJob.objects.get(pk=export.pk).is_active, timeout=300, worker=worker
        )
        export.refresh_from_db()
        assert export.status == "done", (export.error, worker.log())
        assert started["Location"] == reverse("filejob_detail", args=[team.slug, export.pk])
        body = client.get(reverse("filejob_download", args=[team.slug, export.pk]))
        assert b"".join(body.streaming_content).count(b"\r\n") == N + 1  # header + one per label
    finally:
        worker.stop()
