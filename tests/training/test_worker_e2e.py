"""End to end: the launch form, the configured broker, a real Celery worker process and the
real demo model (SmolLM2-135M-Instruct), on the test database."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import published_demo_version
from tests.training.worker_process import Worker, purge_queues, wait_for
from training import services
from training.models import Example, ExampleRound, Run, RunStatus

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


def test_a_run_launched_from_the_page_is_done_by_a_real_worker_with_the_demo_model(
    team, author, viewer, client_for, shared_data, demo_model_path, tmp_path
) -> None:
    version = published_demo_version(team, author)
    with gzip.open(shared_data / "hh-rlhf-harmless-base-test.jsonl.gz", "rt") as fh:
        lines = [next(fh) for _ in range(3)]
    prompt_set = services.promptset_import(
        team=team,
        user=author,
        name="red team",
        data="".join(lines).encode(),
        filename="hh.jsonl",
        held_out_fraction=0.0,
    )
    model = services.model_register(
        team=team, user=author, name="smollm2", path=str(demo_model_path)
    )
    form = {
        "version": version.pk,
        "prompt_set": prompt_set.pk,
        "prompt_selection": "all",
        "model": model.pk,
        "rounds": 1,
        "few_shot": "on",
        "seed": 0,
        "batch_size": 4,
        "shard_size": 2,
    }
    for stage in ("answer", "critique", "revision"):
        form |= {f"{stage}_temperature": 0.7, f"{stage}_top_p": 0.95, f"{stage}_max_new_tokens": 16}
    form = {f"critique_revision-{k}": v for k, v in form.items()}

    purge_queues()
    worker = Worker(tmp_path)
    try:
        response = client_for(author).post(
            reverse("run_launch", args=[team.slug, "critique_revision"]), form
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        run = Run.objects.get()
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=600, worker=worker)
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, worker.log())
    assert run.done_units == run.total_units == 9 and run.examples_done == 3
    assert Example.objects.filter(run=run).count() == 3
    rounds = ExampleRound.objects.filter(example__run=run)
    assert rounds.count() == 3 and all(r.critique and r.revision for r in rounds)
    assert {s.worker for s in run.shards.all()} == {worker.name}
    assert run.completion_tokens > 0 and run.gpu_seconds > 0

    viewer_client = client_for(viewer)
    page = viewer_client.get(
        reverse("run_detail", args=[team.slug, run.pk]), HTTP_HX_REQUEST="true"
    )
    assert page.status_code == 286 and "Succeeded" in page.content.decode()
    export = viewer_client.get(reverse("run_export", args=[team.slug, run.pk, "trl.jsonl"]))
    records = [
        json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()
    ]
    assert len(records) == 3 and all(r["completion"][0]["content"] for r in records)
