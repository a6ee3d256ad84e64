"""Labeller calibration end to end on real parts: the CAI paper's 438 file uploaded on the
import page and imported by a real Celery worker as a gold set, then a calibration run
of the demo model (SmolLM2-135M-Instruct) on its first 8 pairs, two shards, done by
the same worker; the judge's model page lists the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labelling.models import AILabel, FileJob, LabelSet
from tests.factories import published_demo_version
from tests.training.kind_fixtures import start
from tests.training.worker_process import Worker, purge_queues, wait_for
from training import services
from training.models import Run, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_model_path(request) -> Path:
    for candidate in (
        Path(settings.MODELS_DIR) / "smollm2-135m-instruct",
        Path(settings.BASE_DIR) / "var" / "models" / "smollm2-135m-instruct",
    ):
        if (candidate / "config.json").is_file():
            return candidate
    return request.getfixturevalue("demo_model_dir")


def test_the_demo_model_is_calibrated_on_8_gold_pairs_by_a_real_worker(
    team, author, viewer, client_for, shared_data, demo_model_path, tmp_path, settings
) -> None:
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    version = published_demo_version(team, author)
    judge = services.model_register(
        team=team, user=author, name="smollm2", path=str(demo_model_path), context_length=8192
    )
    data = (shared_data / "cai-paper-evals" / "438HHHEvaluations.jsonl").read_bytes()
    purge_queues()
    worker = Worker(tmp_path, "calibration")
    try:
        response = client_for(author).post(
            reverse("labelset_import", args=[team.slug]),
            {
                "name": "CAI 438",
                "fmt": "cai_paper",
                "file": SimpleUploadedFile("438HHHEvaluations.jsonl", data),
            },
        )
        assert response.status_code == 302
        job = FileJob.objects.get()
        wait_for(lambda: not FileJob.objects.get(pk=job.pk).is_active, timeout=300, worker=worker)
        job.refresh_from_db()
        assert job.status == FileJob.Status.DONE, (job.error, job.problems, worker.log())
        gold = LabelSet.objects.get(pk=job.result_id)
        assert gold.comparison_count == 438

        run = start(
            "calibration",
            team=team,
            user=author,
            label_set=gold,
            judge=judge,
            version=version,
            config={"pair_limit": 8, "batch_size": 4},
            shard_size=4,
            enqueue=True,
        )
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=900, worker=worker)
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, worker.log())
    assert run.shards.count() == 2 and run.done_units == 8
    labels = list(AILabel.objects.filter(label_set=gold, judge=run.result["judge_label"]))
    assert len(labels) == 8
    assert all(0.0 < x.p_a_ab < 1.0 and 0.0 < x.p_a_ba < 1.0 for x in labels)
    figures = run.result["calibration"]
    assert figures["n"] == 8 and figures["consistency"]["n"] == 8
    assert figures["accuracy"]["n"] == sum(1 for x in labels if x.p_debiased != 0.5)
    page = client_for(viewer).get(reverse("model_detail", args=[team.slug, judge.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and f"#{run.pk}" in body and "CAI 438" in body
