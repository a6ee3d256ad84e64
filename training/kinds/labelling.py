"""AI preference labelling (RL-CAI stage 2): two sampled answers per prompt from a
policy, judged in both orders by a feedback model against principles drawn from a
published constitution. The output is a label set (status open) that humans audit
before it may train anything."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction

from training.engine.run_configs import LABELLING_MODES, LabellingRunConfig
from training.errors import TrainingError
from training.forms import LaunchForm
from training.inputs import PROMPT_SELECTION, PROMPT_SET, VERSION, model_rule
from training.kinds.base import KindSpec, ShardPlan, single_shard
from training.kinds.checks import require_drawable, require_prompts, user_or_none
from training.models import Run
from training.services.prompt_sets import run_prompt_queryset
from training.shards import ShardContext

INPUTS = (
    PROMPT_SET,
    PROMPT_SELECTION,
    model_rule("policy", "Policy (answers twice)", run_field="model"),
    model_rule("judge", "Feedback model (judge)", run_field="judge_model"),
    VERSION,
)


class LaunchLabelling(LaunchForm):
    inputs = INPUTS
    k_principles = forms.IntegerField(
        min_value=1, max_value=16, initial=1, label="Principles per pair (ensemble)"
    )
    mode = forms.ChoiceField(
        choices=[("logprob", "log-prob (one forward pass)"), ("cot", "chain of thought, clamped")]
    )
    temperature = forms.FloatField(min_value=0.01, max_value=2.0, initial=1.0)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=128)
    batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=8)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def options(self) -> dict[str, Any]:
        keys = ("seed", "temperature", "max_new_tokens", "batch_size", "k_principles", "mode")
        return {k: self.cleaned_data[k] for k in keys}


def _config(options: dict[str, Any]) -> LabellingRunConfig:
    try:
        return LabellingRunConfig.from_dict(options)
    except ValueError as exc:
        raise TrainingError(f"Invalid options: {exc}", field="config") from None


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    _config(options)
    require_drawable(inputs["version"])
    require_prompts(inputs["prompt_set"], inputs["prompt_selection"])
    return {}


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    n = run_prompt_queryset(inputs["prompt_set"], inputs["prompt_selection"]).count()
    return single_shard(n, examples_total=n)


def build_config(options: dict[str, Any], run: Run, inputs: dict[str, Any]) -> LabellingRunConfig:
    return _config(options)


def after_create(run: Run, inputs: dict[str, Any], config: Any, user: Any) -> None:
    """The output label set is made now, so the run page links it from the start."""
    from labelling.services import LabellingError, labelset_create

    policy, judge = inputs["policy"], inputs["judge"]
    try:
        label_set = labelset_create(
            team=run.team,
            user=user_or_none(user),
            name=f"{run.name or 'Labelling run'} #{run.pk}",
            source_kind="run",
            source_detail={
                "run_id": run.pk,
                "policy": policy.name,
                "judge": judge.name,
                "constitution_version_id": inputs["version"].pk,
                "k_principles": config.k_principles,
                "mode": config.mode,
            },
            description=f"AI labels of {judge.name} on pairs sampled from {policy.name}.",
        )
    except LabellingError as exc:
        raise TrainingError(str(exc)) from None
    run.output_label_set = label_set
    run.save(update_fields=["output_label_set"])


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """Two sampled answers per prompt, labelled in both orders, stored batch by batch.

    A batch's comparisons and AI labels are written in one transaction, and a batch
    whose labels are stored is skipped, so a resumed run continues where it stopped
    and never duplicates a comparison. Each batch is seeded from (seed, batch), so a
    batch redone after a crash samples the same answers.
    """
    from constitutions.selectors import version_content, version_with_content
    from labelling.models import AILabel, Comparison
    from labelling.services import (
        AILabelInput,
        ComparisonInput,
        ailabel_bulk_create,
        comparison_bulk_create,
    )
    from training.engine.labeller import PairToLabel, label_pairs
    from training.engine.prompts import answer_messages
    from training.engine.seeds import derive_seed
    from training.engine.types import ChatRequest, SamplingParams

    run = ctx.run
    config = run.config_object()
    label_set = run.output_label_set
    judge_name = run.judge_model.name
    rows = list(
        run_prompt_queryset(run.prompt_set, run.prompt_selection).values_list("index", "text")
    )
    content = version_content(version_with_content(run.constitution_version_id))
    principles_by_key = {p.key: p.pk for p in run.constitution_version.principles.all()}
    prefix = f"run{run.pk}-p"
    done_ids = set(
        AILabel.objects.filter(label_set=label_set, judge=judge_name).values_list(
            "comparison__external_id", flat=True
        )
    )
    done = sum(1 for index, _ in rows if f"{prefix}{index}" in done_ids)
    ctx.progress(done, stage="labelling", examples_done=done)
    # Policy and judge stay loaded side by side (the worker's residency policy), so a
    # batch never reloads either; the same model twice is loaded once.
    ctx.backends(run.model, run.judge_model)
    system = config.system_prompt or None
    stopped = False
    for b, start in enumerate(range(0, len(rows), config.batch_size)):
        batch = [(i, t) for i, t in rows[start : start + config.batch_size]]
        todo = [(i, t) for i, t in batch if f"{prefix}{i}" not in done_ids]
        if not todo:
            continue
        if ctx.should_stop():
            stopped = True
            break
        ctx.beat(stage="sampling")
        policy, judge = ctx.backends(run.model, run.judge_model)
        requests = [ChatRequest(answer_messages(t, system=system)) for _, t in todo]
        answers = []
        for j in range(2):
            seed = derive_seed(config.seed, "answers", b, j)
            params = SamplingParams(
                temperature=config.temperature,
                top_p=config.top_p,
                max_new_tokens=config.max_new_tokens,
                seed=seed,
            )
            answers.append([c.text.strip() for c in policy.generate(requests, params)])
            ctx.beat()
        pairs = [
            PairToLabel(index=i, prompt=t, response_a=a, response_b=bb)
            for (i, t), a, bb in zip(todo, answers[0], answers[1], strict=True)
        ]
        ctx.beat(stage="judging")
        labels = label_pairs(
            pairs,
            content=content,
            backend=judge,
            seed=config.seed,
            k_principles=config.k_principles,
            mode=config.mode,
            cot_clamp=(config.cot_clamp_low, config.cot_clamp_high),
            batch_size=len(pairs),
        )
        by_index = {pair.index: pair for pair in pairs}
        comparisons, ai_labels = [], []
        for label in labels:
            pair = by_index[label.index]
            ext = f"{prefix}{label.index}"
            ids = [
                pid if pid is not None else principles_by_key.get(key)
                for pid, key in zip(label.principle_ids, label.principle_keys, strict=True)
            ]
            comparisons.append(
                ComparisonInput(
                    external_id=ext,
                    prompt=pair.prompt,
                    response_a=pair.response_a,
                    response_b=pair.response_b,
                    principle_key=label.principle_keys[0],
                    principle_id=ids[0],
                    category=_category(content, label.principle_keys[0]),
                    metadata={
                        "run_id": run.pk,
                        "prompt_index": label.index,
                        "principle_keys": list(label.principle_keys),
                        "principle_ids": ids,
                        "p_a_mean": label.p_a_mean,
                    },
                )
            )
            ai_labels.append(
                AILabelInput(
                    external_id=ext,
                    judge=judge_name,
                    verdict_ab=label.verdict_ab,
                    verdict_ba=label.verdict_ba,
                    p_a_ab=label.p_a_ab,
                    p_a_ba=label.p_a_ba,
                )
            )
        with transaction.atomic():
            # The fence first: a worker that lost the shard must not write the batch.
            ctx.beat(stage="saving")
            existing = set(
                Comparison.objects.filter(
                    label_set=label_set, external_id__in=[c.external_id for c in comparisons]
                ).values_list("external_id", flat=True)
            )
            comparison_bulk_create(
                label_set=label_set,
                comparisons=[c for c in comparisons if c.external_id not in existing],
            )
            ailabel_bulk_create(label_set=label_set, labels=ai_labels)
        done_ids.update(c.external_id for c in comparisons)
        done += len(comparisons)
        ctx.progress(done, stage="labelling", examples_done=done)
    labelled = AILabel.objects.filter(label_set=label_set, judge=judge_name).count()
    return not stopped, {"labels": labelled, "pairs": labelled, "judge": judge_name}


def _category(content: Any, key: str) -> str:
    for principle in content.principles:
        if principle.key == key:
            return principle.category
    return ""


def labels_produced(run: Run) -> int:
    return int((run.result or {}).get("labels") or run.examples_done or 0)


SPEC = KindSpec(
    name="labelling",
    label="AI preference labelling",
    summary="Sample two answers per prompt and have a feedback model judge them in both "
    "orders; audit the label set before it trains anything.",
    config_class=LabellingRunConfig,
    form_class=LaunchLabelling,
    inputs=INPUTS,
    build_config=build_config,
    check=check,
    plan=plan,
    after_create=after_create,
    execute=execute,
    template="training/kinds/labelling.html",
    progress_unit="prompts labelled",
    parent=lambda run: run.model.source_run_id if run.model_id and run.model else None,
    labels_produced=labels_produced,
)

__all__ = ["LABELLING_MODES", "SPEC"]
