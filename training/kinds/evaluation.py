"""Evaluation (RL-CAI): a trained policy against its base on a prompt set's held-out
split, judged in both orders by a feedback model, plus over-refusal on benign prompts."""

from __future__ import annotations

from typing import Any

from django import forms

from training.engine.run_configs import EvaluationRunConfig
from training.errors import TrainingError
from training.forms import LaunchForm
from training.inputs import (
    VERSION,
    InputRule,
    held_out_prompt_sets,
    model_rule,
)
from training.kinds.base import KindSpec, ShardPlan, single_shard
from training.models import PromptSelection, PromptSet, Run
from training.services.prompt_sets import run_prompt_queryset
from training.shards import ShardContext

INPUTS = (
    model_rule("policy", "Trained policy", run_field="model"),
    model_rule("base", "Base model", run_field="base_model"),
    model_rule("judge", "Feedback model (judge)", run_field="judge_model"),
    VERSION,
    InputRule(
        role="prompt_set",
        label="Prompt set (its held-out split is used)",
        run_field="prompt_set",
        model=PromptSet,
        allowed=held_out_prompt_sets,
        why_not=lambda p: f"{p.name} has no held-out prompts; import it with a held-out fraction.",
        describe=lambda p: f"{p.name} ({p.held_out_count:,} held out)",
    ),
)

# answers (policy, base), judging, benign answers
PHASES = 4


class LaunchEvaluation(LaunchForm):
    inputs = INPUTS
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=128)
    k_principles = forms.IntegerField(min_value=1, max_value=16, initial=1)
    benign_limit = forms.IntegerField(min_value=1, max_value=20, initial=20, label="Benign prompts")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def options(self) -> dict[str, Any]:
        keys = ("seed", "k_principles", "max_new_tokens", "benign_limit")
        return {k: self.cleaned_data[k] for k in keys}


def build_config(options: dict[str, Any], run: Run, inputs: dict[str, Any]) -> EvaluationRunConfig:
    try:
        return EvaluationRunConfig.from_dict(options)
    except ValueError as exc:
        raise TrainingError(f"Invalid options: {exc}", field="config") from None


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    build_config(options, None, inputs)  # type: ignore[arg-type]
    return {
        "prompt_selection": PromptSelection.HELD_OUT,
        "source_run": inputs["policy"].source_run,
    }


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    n = run_prompt_queryset(inputs["prompt_set"], PromptSelection.HELD_OUT).count()
    return single_shard(PHASES, examples_total=n)


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """Answer the held-out prompts with both models, judge each pair in both orders."""
    from constitutions.selectors import version_content, version_with_content
    from training.engine.evaluation import BENIGN_PROMPTS, evaluate
    from training.engine.types import SamplingParams

    run = ctx.run
    config = run.config_object()
    prompts = list(
        run_prompt_queryset(run.prompt_set, run.prompt_selection).values_list("text", flat=True)
    )
    content = version_content(version_with_content(run.constitution_version_id))
    ctx.progress(0, stage="loading")
    # The three models are asked for together: they stay loaded side by side for
    # the evaluation (the worker's residency policy keeps a set it is given).
    policy, base, judge = ctx.backends(run.model, run.base_model, run.judge_model)
    ctx.progress(1, stage="evaluating")
    result = evaluate(
        policy,
        base,
        judge,
        prompts,
        list(BENIGN_PROMPTS[: config.benign_limit]),
        content=content,
        seed=config.seed,
        k_principles=config.k_principles,
        params=SamplingParams(
            temperature=0.0, max_new_tokens=config.max_new_tokens, seed=config.seed
        ),
        system=config.system_prompt or None,
        batch_size=config.batch_size,
    )
    summary = {
        "n_pairs": result.n_pairs,
        "wins": result.wins,
        "losses": result.losses,
        "ties": result.ties,
        "win_rate": result.win_rate,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "mean_p_policy": result.mean_p_policy,
        "position_consistency": result.position_consistency,
        "refusal_rate_policy": result.refusal_rate_policy,
        "refusal_rate_base": result.refusal_rate_base,
        "n_benign": result.n_benign,
        "examples": [
            {"prompt": p, "policy": a, "base": b, "p_policy": lab.p_a_mean}
            for p, a, b, lab in list(
                zip(
                    prompts, result.policy_answers, result.base_answers, result.labels, strict=False
                )
            )[:20]
        ],
    }
    ctx.beat(examples_done=result.n_pairs)
    return True, summary


SPEC = KindSpec(
    name="evaluation",
    label="Evaluation",
    summary="Compare a trained policy with its base on held-out prompts (harmlessness win "
    "rate with its interval) and on benign prompts (over-refusal).",
    config_class=EvaluationRunConfig,
    form_class=LaunchEvaluation,
    inputs=INPUTS,
    build_config=build_config,
    check=check,
    plan=plan,
    execute=execute,
    template="training/kinds/evaluation.html",
    progress_unit="phases",
    parent=lambda run: run.source_run_id,
)
