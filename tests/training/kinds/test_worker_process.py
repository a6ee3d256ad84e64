"""Run kinds after critique–revision through real Celery worker processes.

1. kill -9 a worker in the middle of SFT training; the reaper re-queues the shard and a
   second worker resumes from the last checkpoint (tiny random Llama).
2. The whole chain on the real demo model: critique-revision -> SFT -> labelling ->
   approval through the labelling services with a seeded human review sample -> DPO,
   each stage done by a real worker, and the lineage page shows every node.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from labelling import services as labelling_services
from labelling.models import Comparison, LabelSet
from tests.factories import published_demo_version
from tests.training import kind_fixtures
from tests.training.kind_fixtures import start
from tests.training.run_fixtures import cr_start, small_config
from tests.training.worker_process import Worker, purge_queues, wait_for
from training import services, tasks
from training.models import ModelEntry, Run, RunMetric, RunShard, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

version = kind_fixtures.version
prompt_set = kind_fixtures.prompt_set
tiny = kind_fixtures.tiny
artifacts = kind_fixtures.artifacts
cr_run = kind_fixtures.cr_run

MAX_STEPS = 40


def test_sft_killed_mid_training_resumes_from_its_checkpoint_on_another_worker(
    team, author, cr_run, tiny, tmp_path
) -> None:
    purge_queues()
    run = start(
        "sft",
        team=team,
        user=author,
        source_run=cr_run,
        model=tiny,
        config={
            "train": {
                "max_steps": MAX_STEPS,
                "logging_steps": 1,
                "save_steps": 4,
                "per_device_batch_size": 2,
                "max_length": 96,
                "learning_rate": 1e-3,
            }
        },
        enqueue=True,
    )
    shard = RunShard.objects.get(run=run)
    output = Path(run.config["train"]["output_dir"])
    first = Worker(tmp_path, "first")
    try:
        wait_for(
            lambda: (
                (output / "checkpoint-8").is_dir()
                and RunMetric.objects.filter(run=run, name="loss").count() >= 10
            ),
            timeout=300,
            worker=first,
            poll=0.05,
        )
    finally:
        first.kill()
    logged = RunMetric.objects.filter(run=run, name="loss").count()
    assert logged < MAX_STEPS, "training finished before the kill; make it longer"
    shard.refresh_from_db()
    assert shard.status == RunStatus.RUNNING and shard.attempts == 1
    assert tasks.reap_stale_runs(stale_seconds=0) == [shard.pk]

    second = Worker(tmp_path, "second")
    try:
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=300, worker=second)
    finally:
        second.stop()
    run.refresh_from_db()
    shard.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, second.log())
    assert shard.attempts == 2 and shard.worker == second.name and shard.lost == 1
    resumed = int(run.result["resumed_from"].rsplit("-", 1)[1])
    assert resumed >= 8 and resumed % 4 == 0
    assert run.result["global_step"] == MAX_STEPS
    steps = list(
        RunMetric.objects.filter(run=run, name="loss")
        .order_by("step")
        .values_list("step", flat=True)
    )
    assert steps == list(range(1, MAX_STEPS + 1))  # re-logged steps overwrote, none doubled
    assert ModelEntry.objects.filter(source_run=run).count() == 1
    assert run.gpu_seconds > 0


@pytest.fixture
def demo_model_path(request) -> Path:
    for candidate in (
        Path(settings.MODELS_DIR) / "smollm2-135m-instruct",
        Path(settings.BASE_DIR) / "var" / "models" / "smollm2-135m-instruct",
    ):
        if (candidate / "config.json").is_file():
            return candidate
    return request.getfixturevalue("demo_model_dir")


def _hh_prompts(shared_data: Path, n: int) -> bytes:
    with gzip.open(shared_data / "hh-rlhf-harmless-base-test.jsonl.gz", "rt") as fh:
        return "".join(next(fh) for _ in range(n)).encode()


def _finish(run: Run, worker: Worker, timeout: float = 900) -> Run:
    wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=timeout, worker=worker)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.kind, run.error, worker.log())
    return run


def test_the_full_chain_on_the_demo_model_through_a_real_worker(
    team, author, auditor, viewer, client_for, shared_data, demo_model_path, tmp_path, settings
) -> None:
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    version = published_demo_version(team, author)
    prompt_set = services.promptset_import(
        team=team,
        user=author,
        name="red team",
        data=_hh_prompts(shared_data, 8),
        filename="hh.jsonl",
        held_out_fraction=0.0,
    )
    base = services.model_register(
        team=team, user=author, name="smollm2", path=str(demo_model_path)
    )
    purge_queues()
    worker = Worker(tmp_path, "chain")
    try:
        cr = cr_start(
            team=team,
            user=author,
            version=version,
            prompt_set=prompt_set,
            model=base,
            config=small_config(rounds=1, batch_size=8),
            prompt_selection="all",
        )
        cr = _finish(cr, worker)
        train = {"max_steps": 3, "per_device_batch_size": 2, "max_length": 256, "logging_steps": 1}
        sft = start(
            "sft",
            team=team,
            user=author,
            source_run=cr,
            model=base,
            config={"train": train},
            enqueue=True,
        )
        sft = _finish(sft, worker)
        sft_model = ModelEntry.objects.get(source_run=sft)
        labelling = start(
            "labelling",
            team=team,
            user=author,
            prompt_set=prompt_set,
            policy=sft_model,
            judge=base,
            version=version,
            prompt_selection="all",
            config={"seed": 1, "max_new_tokens": 16, "batch_size": 4},
            enqueue=True,
        )
        labelling = _finish(labelling, worker)
        label_set = labelling.output_label_set
        assert Comparison.objects.filter(label_set=label_set).count() == 8

        # The audit: a seeded review queue; the human agrees with the AI's final label.
        team.min_audit_reviews = 2
        team.min_audit_agreement = 0.5
        team.save()
        queue = labelling_services.queue_create(
            label_set=label_set, user=auditor, strategy="uniform", sample_size=3, seed=7
        )
        for item in queue.items.select_related("comparison"):
            final = item.comparison.ai_labels.first().final
            order = labelling_services.shown_order_for(
                seed=queue.seed, reviewer_id=auditor.pk, comparison_id=item.comparison_id
            )
            choice = (
                "tie"
                if final == "tie"
                else ("first" if (final == "a") == (order == "ab") else "second")
            )
            labelling_services.review_submit(
                queue=queue, comparison=item.comparison, reviewer=auditor, choice=choice
            )
        labelling_services.labelset_approve(label_set=label_set, user=auditor)
        label_set.refresh_from_db()
        assert label_set.status == LabelSet.Status.APPROVED

        dpo = start(
            "dpo",
            team=team,
            user=author,
            label_set=label_set,
            model=sft_model,
            # The tiny random judge's labels are mostly position-inconsistent.
            config={"train": {**train, "learning_rate": 1e-5}, "confirm_inconsistent": True},
            enqueue=True,
        )
        dpo = _finish(dpo, worker)
    finally:
        worker.stop()
    assert dpo.override_reason == ""
    assert RunMetric.objects.filter(run=dpo, name="loss").count() == 3
    dpo_model = ModelEntry.objects.get(source_run=dpo)
    page = client_for(viewer).get(reverse("lineage", args=[team.slug, version.pk])).content.decode()
    for run in (cr, sft, labelling, dpo):
        assert reverse("run_detail", args=[team.slug, run.pk]) in page
    assert sft_model.name in page and dpo_model.name in page
    assert reverse("labelset_detail", args=[team.slug, label_set.pk]) in page
    assert "Approved" in page
    provenance = json.loads(
        (Path(sft.config["train"]["dataset_path"]) / "provenance.json").read_text()
    )
    assert provenance["constitution_hash"] == version.content_hash
