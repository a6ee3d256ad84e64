"""SFT (SL-CAI stage 1, second half): fine-tune a model on a succeeded
critique–revision run's final revisions (trl's SFTTrainer, completion-only loss,
LoRA if asked). The worker exports the run's dataset into the run folder first; a
resumed run reuses it and continues from the newest checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms

from training import exports
from training.engine.run_configs import SFTRunConfig
from training.forms import TrainLaunchForm
from training.inputs import InputRule, model_rule, succeeded_runs
from training.kinds import trainer
from training.kinds.base import KindSpec, ShardPlan, need, single_shard
from training.models import Run
from training.shards import ShardContext

INPUTS = (
    InputRule(
        role="source_run",
        label="Critique-revision run (succeeded)",
        run_field="source_run",
        model=Run,
        allowed=succeeded_runs("critique_revision"),
        why_not=lambda run: (
            f"{run} is a {run.spec.label} run that is {run.status}: SFT trains "
            "on a succeeded critique-revision run."
        ),
    ),
    model_rule("model", "Base model", run_field="model", trainable=True),
)


class LaunchSFT(TrainLaunchForm):
    inputs = INPUTS
    min_rounds = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=4,
        initial=1,
        help_text="Export examples with at least this many revisions (default 1).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["learning_rate"].initial = 2e-5

    def options(self) -> dict[str, Any]:
        return {**super().options(), "min_rounds": self.cleaned_data.get("min_rounds") or 1}


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    return single_shard(trainer.default_steps(options))


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    """The run keeps where its data came from: its source's constitution and prompts."""
    source = inputs["source_run"]
    return {
        "constitution_version": source.constitution_version,
        "prompt_set": source.prompt_set,
        "prompt_selection": source.prompt_selection,
    }


def build_config(options: dict[str, Any], run: Run, inputs: dict[str, Any]) -> SFTRunConfig:
    return trainer.resolve(SFTRunConfig, options, run, inputs["model"], dataset_path="dataset")


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    run = ctx.run
    config = run.config_object()
    dataset = Path(config.train.dataset_path)
    exported: dict[str, Any] = {}
    if not (dataset / "provenance.json").is_file():
        ctx.progress(0, stage="export")
        source = Run.objects.select_related("constitution_version", "model", "prompt_set").get(
            pk=need(run.source_run_id, "source run")
        )
        if dataset.exists() and not any(dataset.iterdir()):
            dataset.rmdir()
        summary = exports.save_sl_cai_dataset(
            source, dataset, min_rounds=config.min_rounds, sft_run_id=run.pk
        )
        exported = {"dataset_rows": summary.rows, "skipped": summary.skipped_unfinished}
        ctx.update_run(examples_total=summary.rows)
    completed, result = trainer.train(ctx, config.train)
    return completed, {**exported, **result}


SPEC = KindSpec(
    name="sft",
    label="SFT (SL-CAI model)",
    summary="Fine-tune a model on the final revisions of a succeeded critique–revision run.",
    config_class=SFTRunConfig,
    form_class=LaunchSFT,
    inputs=INPUTS,
    build_config=build_config,
    check=check,
    plan=plan,
    execute=execute,
    template="training/kinds/trainer.html",
    charts=trainer.charts_of(
        trainer.LOSS, ("accuracy", "Token accuracy per step", ("mean_token_accuracy",))
    ),
    trains_model=True,
    resume_note="training continues from the last checkpoint",
)
