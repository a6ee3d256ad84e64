"""Reward model (RL-CAI preference model): a sequence classifier trained on a label
set's AI preferences, then scored on held-out AI labels and on the human-reviewed
pairs of the same set."""

from __future__ import annotations

from typing import Any

from django import forms

from training.engine.run_configs import RewardRunConfig
from training.kinds import preference, trainer
from training.kinds.base import KindSpec
from training.shards import ShardContext


class LaunchReward(preference.PreferenceLaunchForm):
    eval_fraction = forms.FloatField(min_value=0.0, max_value=0.9, initial=0.1)
    train_fields = (*preference.PreferenceLaunchForm.train_fields, "eval_fraction")


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    completed, result = preference.write_pairs_and_train(ctx)
    if completed:
        result.update(accuracy(ctx, result))
    return completed, result


def accuracy(ctx: ShardContext, result: dict[str, Any]) -> dict[str, Any]:
    """Held-out AI-label accuracy (from the trainer's eval) and accuracy on human reviews."""
    from training.engine.trainers.reward import evaluate_reward_accuracy

    run = ctx.run
    step = int(result.get("global_step") or 0)
    out: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    held_out = result.get("final_metrics", {}).get("eval_accuracy")
    if held_out is not None:
        out["accuracy_held_out_ai"] = held_out
        metrics["accuracy/held_out_ai"] = float(held_out)
    reference = preference.human_reference(run.label_set)
    humans = preference.human_pairs(run.label_set, reference)
    out["human_pairs"] = len(humans)
    out["human_reference"] = reference
    if humans:
        ctx.beat(stage="human accuracy")
        accuracy = evaluate_reward_accuracy(result["final_dir"], humans)
        out["accuracy_human"] = accuracy
        metrics["accuracy/human"] = accuracy
    if metrics:
        ctx.log_metrics(step, metrics, progress=False)
    return out


SPEC = KindSpec(
    name="reward",
    label="Reward model",
    summary="Train a preference model on an approved label set; scored on held-out AI "
    "labels and on the set's human reviews.",
    config_class=RewardRunConfig,
    form_class=LaunchReward,
    inputs=preference.INPUTS,
    build_config=preference.build_config_for(RewardRunConfig),
    check=preference.check,
    plan=preference.plan,
    execute=execute,
    template="training/kinds/trainer.html",
    charts=trainer.charts_of(
        trainer.LOSS,
        ("margin", "Reward margin (chosen − rejected) per step", ("margin",)),
        (
            "accuracy",
            "Reward accuracy per step",
            ("accuracy", "accuracy/held_out_ai", "accuracy/human"),
        ),
    ),
    parent=lambda run: run.source_run_id,
    trains_model=True,
    reward_model=True,
    resume_note="training continues from the last checkpoint",
)
