"""Evaluation (RL-CAI): a trained policy against its base on a prompt set's held-out
split, judged in both orders by a feedback model, plus over-refusal on benign prompts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction

from training.engine.run_configs import EvaluationRunConfig
from training.forms import PromptSubsetLaunchForm
from training.inputs import (
    VERSION,
    InputRule,
    held_out_prompt_sets,
    model_rule,
)
from training.kinds.base import KindSpec, ShardPlan, split_evenly
from training.kinds.checks import parse_options, require_prompts
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

DEFAULT_SHARD_SIZE = 256
# Per held-out prompt: the policy's answer, the base's answer, the judged pair.
UNITS_PER_PROMPT = 3
# The run's first shard also answers the benign prompts (over-refusal).
BENIGN_SHARD = 0


class LaunchEvaluation(PromptSubsetLaunchForm):
    inputs = INPUTS
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=128)
    k_principles = forms.IntegerField(min_value=1, max_value=16, initial=1)
    benign_limit = forms.IntegerField(min_value=1, max_value=20, initial=20, label="Benign prompts")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def options(self) -> dict[str, Any]:
        keys = ("seed", "k_principles", "max_new_tokens", "benign_limit")
        return {**{k: self.cleaned_data[k] for k in keys}, **self.subset_options()}


def build_config(options: dict[str, Any], run: Run, inputs: dict[str, Any]) -> EvaluationRunConfig:
    return parse_options(EvaluationRunConfig, options)


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    config = build_config(options, None, inputs)  # type: ignore[arg-type]
    require_prompts(inputs["prompt_set"], PromptSelection.HELD_OUT, config)
    return {
        "prompt_selection": PromptSelection.HELD_OUT,
        "source_run": inputs["policy"].source_run,
    }


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    """Contiguous ranges of the held-out prompts, one task each."""
    config = parse_options(EvaluationRunConfig, options)
    n = run_prompt_queryset(inputs["prompt_set"], PromptSelection.HELD_OUT, config).count()
    size = shard_size or DEFAULT_SHARD_SIZE
    return ShardPlan(
        shards=[(a, b, (b - a) * UNITS_PER_PROMPT) for a, b in split_evenly(n, size)],
        total_units=n * UNITS_PER_PROMPT,
        examples_total=n,
        shard_size=size,
    )


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """This shard's held-out prompts: all policy answers, then all base answers, then
    the judge on every pair (both orders); each model is asked for once per shard.

    The shard's counts are stored in the run's result under its index in one fenced
    transaction, and the run's figures recombined from every stored shard's counts:
    a redelivered shard overwrites its own entry, so nothing is counted twice.
    """
    from constitutions.selectors import version_content, version_with_content
    from training.engine.evaluation import BENIGN_PROMPTS, combine_counts, partial_counts
    from training.engine.labeller import PairToLabel, label_pairs
    from training.engine.types import SamplingParams

    run = ctx.run
    config = run.config_object()
    key = str(ctx.shard.index)
    rows = list(
        run_prompt_queryset(run.prompt_set, run.prompt_selection, config).values_list(
            "index", "text"
        )[ctx.start : ctx.end]
    )
    texts = [t for _, t in rows]
    benign = list(BENIGN_PROMPTS[: config.benign_limit]) if ctx.shard.index == BENIGN_SHARD else []
    content = version_content(version_with_content(run.constitution_version_id))
    params = SamplingParams(temperature=0.0, max_new_tokens=config.max_new_tokens, seed=config.seed)
    system = config.system_prompt or None
    n = len(rows)
    answers: dict[str, tuple[list[str], list[str]]] = {}
    for phase, (entry, role) in enumerate(((run.model, "policy"), (run.base_model, "base"))):
        ctx.progress(n * phase, stage=f"{role} answers")
        (backend,) = ctx.backends(entry)
        out: list[str] = []
        for start in range(0, n, config.batch_size):
            if ctx.should_stop():
                return False, {}
            out += _answers(backend, texts[start : start + config.batch_size], params, system)
            ctx.progress(n * phase + len(out), stage=f"{role} answers")
        answers[role] = (out, _answers(backend, benign, params, system))
    (judge,) = ctx.backends(run.judge_model)
    pairs = [
        PairToLabel(index=index, prompt=t, response_a=a, response_b=b)
        for (index, t), a, b in zip(rows, answers["policy"][0], answers["base"][0], strict=True)
    ]
    labels = []
    for start in range(0, n, config.batch_size):
        if ctx.should_stop():
            return False, {}
        labels += label_pairs(
            pairs[start : start + config.batch_size],
            content=content,
            backend=judge,
            seed=config.seed,
            k_principles=config.k_principles,
            batch_size=config.batch_size,
        )
        ctx.progress(2 * n + len(labels), stage="judging", examples_done=len(labels))
    part = {
        **partial_counts(labels, answers["policy"][1], answers["base"][1]),
        "examples": [
            {
                "prompt": p.prompt,
                "policy": p.response_a,
                "base": p.response_b,
                "p_policy": lab.p_a_mean,
            }
            # The run page shows the first 20 prompts' answers: only the shards they are in
            # carry examples, so the stored result stays small however many shards there are.
            for p, lab in list(zip(pairs, labels, strict=True))[: max(0, 20 - ctx.start)]
        ],
    }
    with transaction.atomic():
        ctx.beat(stage="saving")  # the fence: a shard that was taken away writes nothing
        current = Run.objects.select_for_update().get(pk=run.pk).result or {}
        shards = {**current.get("shards", {}), key: part}
        examples = [e for k in sorted(shards, key=int) for e in shards[k]["examples"]][:20]
        summary = combine_counts(list(shards.values()))
        Run.objects.filter(pk=run.pk).update(
            result={**current, "shards": shards, **summary, "examples": examples}
        )
    return True, {}


def _answers(backend: Any, prompts: list[str], params: Any, system: str | None) -> list[str]:
    from training.engine.prompts import answer_messages
    from training.engine.types import ChatRequest

    requests = [ChatRequest(answer_messages(p, system=system)) for p in prompts]
    return [c.text.strip() for c in backend.generate(requests, params)] if requests else []


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
    progress_unit="steps (an answer or a judged pair)",
    parent=lambda run: run.source_run_id,
)
