"""AI preference labelling (RL-CAI stage 2): two sampled answers per prompt from a
policy, judged in both orders by a feedback model against principles drawn from a
published constitution. The output is a label set (status open) that humans audit
before it may train anything."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.db import transaction

from training.engine.run_configs import LABELLING_MODES, LabellingRunConfig
from training.errors import TrainingError
from training.forms import PromptSubsetLaunchForm
from training.inputs import PROMPT_SELECTION, PROMPT_SET, VERSION, model_rule
from training.kinds.base import KindSpec, ShardPlan, split_evenly
from training.kinds.checks import parse_options, require_drawable, require_prompts, user_or_none
from training.models import Run
from training.services.prompt_sets import run_prompt_queryset
from training.shards import ShardContext

if TYPE_CHECKING:
    from labelling.services import AILabelInput

DEFAULT_SHARD_SIZE = 256
UNITS_PER_PROMPT = 2  # its pair sampled, its pair judged

INPUTS = (
    PROMPT_SET,
    PROMPT_SELECTION,
    model_rule("policy", "Policy (answers twice)", run_field="model"),
    model_rule("judge", "Feedback model (judge)", run_field="judge_model"),
    VERSION,
)


class LaunchLabelling(PromptSubsetLaunchForm):
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

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, team=team, **kwargs)
        _say_what_labelling_asks(self.fields["version"])

    def options(self) -> dict[str, Any]:
        keys = ("seed", "temperature", "max_new_tokens", "batch_size", "k_principles", "mode")
        return {**{k: self.cleaned_data[k] for k in keys}, **self.subset_options()}


def _say_what_labelling_asks(field: Any) -> None:
    """Each offered version says what labelling asks under it (its principles' comparison
    questions, or the default question when none has one); the help text quotes the default."""
    from constitutions.content import DEFAULT_COMPARISON_QUESTION
    from constitutions.selectors import labelling_summaries

    summaries = labelling_summaries(field.queryset)
    describe = field.label_from_instance
    field.label_from_instance = lambda v: f"{describe(v)}: {summaries.get(v.pk, '')}"
    field.help_text = (
        "Labelling draws only principles with a comparison question. A version with none "
        f'asks every pair the default question: "{DEFAULT_COMPARISON_QUESTION}"'
    )


def _config(options: dict[str, Any]) -> LabellingRunConfig:
    return parse_options(LabellingRunConfig, options)


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    config = _config(options)
    require_drawable(inputs["version"], "comparison")
    require_prompts(inputs["prompt_set"], inputs["prompt_selection"], config)
    return {}


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    """Contiguous ranges of the run's prompts (positions in ``run_prompt_queryset``),
    one task each; every prompt is two units: its pair sampled, then judged."""
    n = run_prompt_queryset(
        inputs["prompt_set"], inputs["prompt_selection"], _config(options)
    ).count()
    size = shard_size or DEFAULT_SHARD_SIZE
    return ShardPlan(
        shards=[(a, b, (b - a) * UNITS_PER_PROMPT) for a, b in split_evenly(n, size)],
        total_units=n * UNITS_PER_PROMPT,
        examples_total=n,
        shard_size=size,
    )


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
    """This shard's prompts: every pair sampled by the policy first, then every pair judged.

    Two phases so that each model is asked for once per shard: with
    ``WORKER_RESIDENT_MODELS`` >= 2 both stay loaded (one load each per worker),
    with 1 the policy is loaded for the sampling and the judge for the judging (at
    most one load of each per shard), never swapped per batch.

    Both phases write batch by batch, each batch one fenced transaction keyed by the
    prompt index (``run<id>-p<index>``): sampling stores the comparison (its
    principles are drawn from (seed, index), so known before judging), judging its AI
    label. A redelivered or resumed shard skips what is stored, so no comparison or
    label is ever duplicated and the shards of one run share one output label set.
    """
    from constitutions.selectors import version_content, version_with_content
    from labelling.models import AILabel, Comparison
    from labelling.services import ComparisonInput, ailabel_bulk_create, comparison_bulk_create
    from training.engine.labeller import pair_principles

    run = ctx.run
    config = run.config_object()
    label_set = run.output_label_set
    judge_name = run.judge_model.name
    rows = list(
        run_prompt_queryset(run.prompt_set, run.prompt_selection, config).values_list(
            "index", "text"
        )[ctx.start : ctx.end]
    )
    content = version_content(version_with_content(run.constitution_version_id))
    principles_by_key = {p.key: p.pk for p in run.constitution_version.principles.all()}
    prefix = f"run{run.pk}-p"
    ext_of = {index: f"{prefix}{index}" for index, _ in rows}
    sampled = set(
        Comparison.objects.filter(label_set=label_set, external_id__in=ext_of.values()).values_list(
            "external_id", flat=True
        )
    )
    judged = set(
        AILabel.objects.filter(
            label_set=label_set, judge=judge_name, comparison__external_id__in=ext_of.values()
        ).values_list("comparison__external_id", flat=True)
    )
    n = len(rows)

    def report(stage: str) -> None:
        ctx.progress(len(sampled) + len(judged), stage=stage, examples_done=len(judged))

    report("sampling")
    spent = [0, 0]  # this attempt's policy tokens (prompt, completion); the judge's
    # log-prob scoring reports none (score_choices returns probabilities only)
    todo = [(i, t) for i, t in rows if ext_of[i] not in sampled]
    for start in range(0, len(todo), config.batch_size):
        if ctx.should_stop():
            return False, {}
        batch = todo[start : start + config.batch_size]
        (policy,) = ctx.backends(run.model)
        answers = _sample(
            policy, batch, config, shard=ctx.shard.index, batch_start=start, spent=spent
        )
        comparisons = []
        for (index, text), (a, b) in zip(batch, answers, strict=True):
            drawn = pair_principles(content, config.seed, index, config.k_principles)
            ids = [p.id if p.id is not None else principles_by_key.get(p.key) for p in drawn]
            comparisons.append(
                ComparisonInput(
                    external_id=ext_of[index],
                    prompt=text,
                    response_a=a,
                    response_b=b,
                    principle_key=drawn[0].key,
                    principle_id=ids[0],
                    category=drawn[0].category,
                    metadata={
                        "run_id": run.pk,
                        "prompt_index": index,
                        "principle_keys": [p.key for p in drawn],
                        "principle_ids": ids,
                    },
                )
            )
        with transaction.atomic():
            ctx.beat(stage="saving")  # the fence: a worker that lost the shard writes nothing
            comparison_bulk_create(label_set=label_set, comparisons=comparisons, skip_existing=True)
        sampled.update(c.external_id for c in comparisons)
        ctx.add_tokens(*spent)
        report("sampling")

    pending = list(
        Comparison.objects.filter(label_set=label_set, external_id__in=ext_of.values())
        .exclude(external_id__in=judged)
        .order_by("pk")
        .values_list("external_id", "prompt", "response_a", "response_b", "metadata")
    )
    for start in range(0, len(pending), config.batch_size):
        if ctx.should_stop():
            return False, {}
        batch = pending[start : start + config.batch_size]
        (judge,) = ctx.backends(run.judge_model)
        ai_labels = _judge(judge, batch, content, config, judge_name)
        with transaction.atomic():
            ctx.beat(stage="saving")
            ailabel_bulk_create(label_set=label_set, labels=ai_labels)
        judged.update(label.external_id for label in ai_labels)
        report("judging")
    labelled = AILabel.objects.filter(label_set=label_set, judge=judge_name).count()
    return True, {"labels": labelled, "pairs": labelled, "judge": judge_name, "shard_prompts": n}


def _sample(
    policy: Any,
    batch: list[tuple[int, str]],
    config: Any,
    *,
    shard: int,
    batch_start: int,
    spent: list[int],
) -> list[tuple[str, str]]:
    """Two sampled answers per prompt, seeded from (seed, shard, batch, sample); the
    tokens they cost are added to ``spent`` (prompt, completion)."""
    from training.engine.prompts import answer_messages
    from training.engine.seeds import derive_seed
    from training.engine.types import ChatRequest, SamplingParams

    system = config.system_prompt or None
    requests = [ChatRequest(answer_messages(t, system=system)) for _, t in batch]
    answers = []
    for j in range(2):
        params = SamplingParams(
            temperature=config.temperature,
            top_p=config.top_p,
            max_new_tokens=config.max_new_tokens,
            seed=derive_seed(config.seed, "answers", shard, batch_start, j),
        )
        completions = policy.generate(requests, params)
        spent[0] += sum(c.prompt_tokens for c in completions)
        spent[1] += sum(c.completion_tokens for c in completions)
        answers.append([c.text.strip() for c in completions])
    return list(zip(answers[0], answers[1], strict=True))


def _judge(
    judge: Any, batch: list[tuple], content: Any, config: Any, judge_name: str
) -> list[AILabelInput]:
    """The judge's labels (both orders) of stored comparisons, as service inputs."""
    from labelling.services import AILabelInput
    from training.engine.labeller import PairToLabel, label_pairs

    ext_by_index = {meta["prompt_index"]: ext for ext, _, _, _, meta in batch}
    pairs = [
        PairToLabel(index=meta["prompt_index"], prompt=prompt, response_a=a, response_b=b)
        for _, prompt, a, b, meta in batch
    ]
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
    return [
        AILabelInput(
            external_id=ext_by_index[label.index],
            judge=judge_name,
            verdict_ab=label.verdict_ab,
            verdict_ba=label.verdict_ba,
            p_a_ab=label.p_a_ab,
            p_a_ba=label.p_a_ba,
        )
        for label in labels
    ]


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
    progress_unit="steps (a pair sampled or judged)",
    count_unit="labels",  # examples_done: the pairs judged, one AI label each
    parent=lambda run: run.model.source_run_id if run.model_id and run.model else None,
    labels_produced=labels_produced,
)

__all__ = ["LABELLING_MODES", "SPEC"]
