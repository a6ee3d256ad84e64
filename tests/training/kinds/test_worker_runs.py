"""Each run kind after critique–revision through run_start and the shard task called directly, on the
tiny random Llama: trainers change parameters with finite losses, metrics rows are
written, trained models are registered; the labelling run stores both orders; the
unapproved-set refusal and its recorded override; cooperative cancel and resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from labelling.models import AILabel, Comparison, HumanReview, LabelSet, LabelSetOverride
from labelling.services import comparison_refresh_human
from tests.training import kind_fixtures
from tests.training.kind_fixtures import TRAIN, evaluation_config, execute, labelling_config, start
from training import services, worker_models
from training.engine.config import ConfigError
from training.models import ModelEntry, Run, RunMetric, RunShard, RunStatus
from training.shards import ShardContext

artifacts = kind_fixtures.artifacts
version = kind_fixtures.version
prompt_set = kind_fixtures.prompt_set
tiny = kind_fixtures.tiny
cr_run = kind_fixtures.cr_run
labelled = kind_fixtures.labelled

pytestmark = pytest.mark.django_db


def _weights(folder: str | Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))


def _changed(before: str | Path, after: str | Path) -> bool:
    import torch

    a, b = _weights(before), _weights(after)
    shared = [k for k in a if k in b and a[k].shape == b[k].shape]
    assert shared
    return any(not torch.equal(a[k], b[k]) for k in shared)


def _losses(run: Run) -> list[float]:
    return list(
        RunMetric.objects.filter(run=run, name="loss")
        .order_by("step")
        .values_list("value", flat=True)
    )


def test_an_sft_run_trains_on_the_critique_revision_export_and_registers_the_model(
    team, author, cr_run, tiny
) -> None:
    run = start(
        "sft", team=team, user=author, source_run=cr_run, model=tiny, config={"train": TRAIN}
    )
    assert run.config["train"]["completion_only_loss"] is True
    assert run.config["train"]["output_dir"].endswith(f"runs/{run.pk}/train")
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    losses = _losses(run)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    entry = ModelEntry.objects.get(source_run=run)
    assert _changed(tiny.path, entry.path)
    dataset = Path(run.config["train"]["dataset_path"])
    assert (dataset / "provenance.json").is_file()
    assert run.result["dataset_rows"] == 8 and run.result["global_step"] == 3
    assert run.device == "cpu" and run.gpu_seconds > 0
    assert run.constitution_version_id == cr_run.constitution_version_id


def test_sft_refuses_a_run_that_has_not_succeeded(team, author, cr_run, tiny) -> None:
    Run.objects.filter(pk=cr_run.pk).update(status=RunStatus.FAILED)
    cr_run.refresh_from_db()
    with pytest.raises(services.TrainingError, match="succeeded critique-revision"):
        start("sft", team=team, user=author, source_run=cr_run, model=tiny)


def test_a_labelling_run_stores_both_orders_with_the_exact_principles(labelled, version) -> None:
    label_set = labelled.output_label_set
    assert label_set.source_kind == LabelSet.SourceKind.RUN
    assert label_set.source_detail["run_id"] == labelled.pk
    assert label_set.status == LabelSet.Status.OPEN
    comparisons = list(Comparison.objects.filter(label_set=label_set))
    assert len(comparisons) == 6 == labelled.examples_done  # the train split
    principle_ids = set(version.principles.values_list("pk", flat=True))
    for c in comparisons:
        assert c.principle_id in principle_ids
        assert c.metadata["principle_ids"] == [c.principle_id]
        label = AILabel.objects.get(comparison=c)
        assert 0 <= label.p_a_ab <= 1 and 0 <= label.p_a_ba <= 1
        assert label.verdict_ab in ("a", "b", "tie") and label.verdict_ba in ("a", "b", "tie")
    assert labelled.result["labels"] == 6
    assert any(c.response_a != c.response_b for c in comparisons)  # sampled, not greedy


def test_swapping_a_stored_pair_mirrors_its_probabilities(labelled, tiny) -> None:
    from constitutions.selectors import version_content, version_with_content
    from training.engine.labeller import PairToLabel, label_pairs

    c = Comparison.objects.filter(label_set=labelled.output_label_set).first()
    stored = AILabel.objects.get(comparison=c)
    index = c.metadata["prompt_index"]
    content = version_content(version_with_content(labelled.constitution_version_id))
    (swapped,) = label_pairs(
        [
            PairToLabel(
                index=index, prompt=c.prompt, response_a=c.response_b, response_b=c.response_a
            )
        ],
        content=content,
        backend=worker_models.backend_for(tiny.to_spec()),
        seed=labelled.config["seed"],
    )
    assert swapped.p_a_ab == pytest.approx(1 - stored.p_a_ba, abs=1e-5)
    assert swapped.p_a_ba == pytest.approx(1 - stored.p_a_ab, abs=1e-5)


def test_a_resumed_labelling_run_redoes_only_missing_batches_without_duplicates(labelled) -> None:
    label_set = labelled.output_label_set
    before = dict(Comparison.objects.filter(label_set=label_set).values_list("external_id", "pk"))
    lost = sorted(before)[-2:]  # one batch of two, as if the worker died before writing it
    Comparison.objects.filter(label_set=label_set, external_id__in=lost).delete()
    Run.objects.filter(pk=labelled.pk).update(status=RunStatus.FAILED)
    RunShard.objects.filter(run=labelled).update(status=RunStatus.FAILED)
    labelled.refresh_from_db()
    services.run_resume(run=labelled)
    run = execute(labelled)
    assert run.status == RunStatus.SUCCEEDED, run.error
    after = dict(Comparison.objects.filter(label_set=label_set).values_list("external_id", "pk"))
    assert sorted(after) == sorted(before)
    kept = [k for k in before if k not in lost]
    assert all(after[k] == before[k] for k in kept)
    assert AILabel.objects.filter(label_set=label_set).count() == 6


def test_dpo_refuses_an_unapproved_label_set(team, author, labelled, tiny) -> None:
    with pytest.raises(services.TrainingError, match="not approved"):
        start("dpo", team=team, user=author, label_set=labelled.output_label_set, model=tiny)
    assert not Run.objects.filter(kind="dpo").exists()


def test_a_dpo_run_with_an_override_records_the_reason_trains_and_registers(
    team, author, labelled, tiny
) -> None:
    label_set = labelled.output_label_set
    run = start(
        "dpo",
        team=team,
        user=author,
        label_set=label_set,
        model=tiny,
        config={
            "train": {**TRAIN, "beta": 0.1},
            "override_reason": "smoke test before the audit",
            "confirm_inconsistent": True,  # the tiny random judge is mostly inconsistent
        },
    )
    assert run.override_reason == "smoke test before the audit"
    override = LabelSetOverride.objects.get(label_set=label_set)
    assert override.user == author and override.status_at_override == "open"
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    names = set(RunMetric.objects.filter(run=run).values_list("name", flat=True))
    assert {"loss", "rewards/margins", "rewards/accuracies"} <= names
    assert all(math.isfinite(x) for x in _losses(run))
    entry = ModelEntry.objects.get(source_run=run)
    assert _changed(tiny.path, entry.path)
    assert run.result["pairs"] >= 1 and run.source_run_id == labelled.pk


def test_an_approved_label_set_needs_no_override(team, author, labelled, tiny) -> None:
    LabelSet.objects.filter(pk=labelled.output_label_set_id).update(status="approved")
    run = start(
        "dpo",
        team=team,
        user=author,
        label_set=LabelSet.objects.get(pk=labelled.output_label_set_id),
        model=tiny,
        config={"override_reason": "ignored", "confirm_inconsistent": True},
    )
    assert run.override_reason == ""
    assert not LabelSetOverride.objects.exists()


def test_a_reward_run_reports_accuracy_on_held_out_ai_labels_and_human_reviews(
    team, author, labelled, tiny
) -> None:
    label_set = labelled.output_label_set
    for i, c in enumerate(Comparison.objects.filter(label_set=label_set)):
        verdict = "a" if i % 2 else "b"
        HumanReview.objects.create(
            comparison=c, label_set=label_set, reviewer_name="h", source="import", verdict=verdict
        )
    comparison_refresh_human(comparison_ids=[c.pk for c in label_set.comparisons.all()])
    # An in-app audit that disagrees everywhere must not move the figure: gold decides.
    for c in label_set.comparisons.all():
        HumanReview.objects.create(
            comparison=c,
            label_set=label_set,
            reviewer=author,
            reviewer_name="auditor",
            source="app",
            verdict="b" if c.gold_verdict == "a" else "a",
        )
    comparison_refresh_human(comparison_ids=[c.pk for c in label_set.comparisons.all()])
    run = start(
        "reward",
        team=team,
        user=author,
        label_set=label_set,
        model=tiny,
        config={
            "train": {**TRAIN, "eval_fraction": 0.34},
            "override_reason": "test",
            "confirm_inconsistent": True,
        },
    )
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert 0.0 <= run.result["accuracy_human"] <= 1.0 and run.result["human_pairs"] == 6
    assert run.result["human_reference"] == "gold"
    assert 0.0 <= run.result["accuracy_held_out_ai"] <= 1.0
    names = set(RunMetric.objects.filter(run=run).values_list("name", flat=True))
    assert {"loss", "accuracy/human", "accuracy/held_out_ai"} <= names
    entry = ModelEntry.objects.get(source_run=run)
    assert entry.options["reward_model"] is True


def test_an_evaluation_run_stores_the_win_rate_with_its_interval_and_refusals(
    team, author, version, prompt_set, tiny
) -> None:
    run = start(
        "evaluation",
        team=team,
        user=author,
        policy=tiny,
        base=tiny,
        judge=tiny,
        version=version,
        prompt_set=prompt_set,
        config=evaluation_config(),
    )
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    r = run.result
    assert r["n_pairs"] == 2 and r["wins"] + r["losses"] + r["ties"] == 2
    assert 0 <= r["ci_low"] <= r["win_rate"] <= r["ci_high"] <= 1
    assert r["n_benign"] == 3 and 0 <= r["refusal_rate_policy"] <= 1


def test_a_cancelled_training_run_keeps_its_checkpoint_and_resumes_from_it(
    team, author, cr_run, tiny, monkeypatch
) -> None:
    run = start(
        "sft", team=team, user=author, source_run=cr_run, model=tiny, config={"train": TRAIN}
    )
    real = ShardContext.should_stop

    def stop_after_two_steps(self) -> bool:
        real(self)
        # on_step_end runs before on_log: one logged loss means step 2 is ending.
        return RunMetric.objects.filter(run=self.run, name="loss").count() >= 1

    monkeypatch.setattr(ShardContext, "should_stop", stop_after_two_steps)
    run = execute(run)
    assert run.status == RunStatus.CANCELLED
    assert not ModelEntry.objects.filter(source_run=run).exists()
    assert (Path(run.config["train"]["output_dir"]) / "checkpoint-2").is_dir()
    monkeypatch.setattr(ShardContext, "should_stop", real)
    services.run_resume(run=run)
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["resumed_from"].endswith("checkpoint-2")
    assert run.result["global_step"] == 3
    assert ModelEntry.objects.filter(source_run=run).exists()


def test_a_failed_run_shows_its_error_and_can_be_resumed(team, author, cr_run, tiny) -> None:
    run = start(
        "sft", team=team, user=author, source_run=cr_run, model=tiny, config={"train": TRAIN}
    )
    Run.objects.filter(pk=run.pk).update(
        config={**run.config, "train": {**run.config["train"], "model_path": "/nonexistent"}}
    )
    run = execute(run)
    assert run.status == RunStatus.FAILED and "nonexistent" in run.error
    assert run.can_resume


def test_trainers_launch_only_local_transformers_models(team, author, cr_run, tiny) -> None:
    ModelEntry.objects.filter(pk=tiny.pk).update(gguf_file="m.gguf")
    tiny.refresh_from_db()
    with pytest.raises(services.TrainingError, match="cannot be trained"):
        start("sft", team=team, user=author, source_run=cr_run, model=tiny)


def test_labelling_refuses_a_zero_temperature(team, author, version, prompt_set, tiny) -> None:
    with pytest.raises(services.TrainingError, match="temperature"):
        start(
            "labelling",
            team=team,
            user=author,
            prompt_set=prompt_set,
            policy=tiny,
            judge=tiny,
            version=version,
            config=labelling_config(temperature=0.0),
        )
    assert not Run.objects.filter(kind="labelling").exists()


def test_the_config_json_is_rebuilt_strictly(team, author, cr_run, tiny) -> None:
    run = start(
        "sft", team=team, user=author, source_run=cr_run, model=tiny, config={"train": TRAIN}
    )
    assert run.config_object().train.max_steps == 3
    Run.objects.filter(pk=run.pk).update(config={**run.config, "min_rounds": True})
    run.refresh_from_db()
    with pytest.raises(ConfigError, match="min_rounds: must be an integer"):
        run.config_object()
