"""Labeller calibration: a judge model labels a gold label set (comparisons whose right
answer a person gave, e.g. the CAI paper's 438 HHH comparisons) in both orders, with
the labelling run's own labeller (log-prob or CoT, a k-principle ensemble drawn from a
published constitution). Its figures are the audit's: accuracy against the gold label
with its Wilson interval, position consistency, and the calibration bins.

The AI labels go into the gold set itself under a judge name of the run's own
(``<model> · calibration #<run>``), so the set's statistics page, sliced by that judge,
is the run's report, and sliced ``by judge`` it sets every calibration of the set side
by side. The final figures are also kept in ``run.result["calibration"]`` for the run
page and the judge model's page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from cai_web.models import Team
from labelling.models import AILabel, Comparison, LabelSet
from training.engine.calibration import CALIBRATION_MODES, CalibrationRunConfig
from training.errors import TrainingError
from training.forms import LaunchForm
from training.inputs import VERSION, InputRule, model_rule
from training.kinds.base import Chart, KindSpec, ShardPlan, need, split_evenly
from training.kinds.checks import parse_options, require_drawable
from training.models import Run
from training.shards import ShardContext

DEFAULT_SHARD_SIZE = 256
GOLD_VERDICTS = ("a", "b")  # a tie or "both unacceptable" has no right answer to hit
JUDGE_NAME_LIMIT = 120  # AILabel.judge


def gold_label_sets(team: Team) -> QuerySet[LabelSet]:
    """The team's label sets with at least one gold (imported human) a/b label."""
    gold = Comparison.objects.filter(label_set=OuterRef("pk"), gold_verdict__in=GOLD_VERDICTS)
    return LabelSet.objects.filter(team=team).filter(Exists(gold)).order_by("-pk")


def _why_not_gold(label_set: LabelSet) -> str:
    return (
        f"{label_set.name} has no gold labels (imported human a/b verdicts) to check a "
        "judge against; import a gold set, e.g. the CAI paper's eval files."
    )


GOLD_SET = InputRule(
    role="label_set",
    label="Gold label set",
    run_field="label_set",
    model=LabelSet,
    allowed=gold_label_sets,
    why_not=_why_not_gold,
    describe=lambda s: f"{s.name} ({s.comparison_count:,} comparisons)",
)

INPUTS = (
    GOLD_SET,
    model_rule("judge", "Judge (feedback model)", run_field="judge_model"),
    VERSION,
)


class LaunchCalibration(LaunchForm):
    inputs = INPUTS
    k_principles = forms.IntegerField(
        min_value=1, max_value=16, initial=1, label="Principles per pair (ensemble)"
    )
    mode = forms.ChoiceField(
        choices=[("logprob", "log-prob (one forward pass)"), ("cot", "chain of thought, clamped")]
    )
    pair_limit = forms.IntegerField(
        min_value=0, initial=0, label="First N gold pairs only", help_text="0: every gold pair."
    )
    batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=8)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def options(self) -> dict[str, Any]:
        keys = ("seed", "k_principles", "mode", "pair_limit", "batch_size")
        return {k: self.cleaned_data[k] for k in keys}


def _config(options: dict[str, Any]) -> CalibrationRunConfig:
    return parse_options(CalibrationRunConfig, options)


def gold_comparisons(label_set: LabelSet) -> QuerySet[Comparison]:
    """The set's gold a/b comparisons in the order the shards cut them."""
    return Comparison.objects.filter(label_set=label_set, gold_verdict__in=GOLD_VERDICTS).order_by(
        "pk"
    )


def _pair_count(label_set: LabelSet, config: CalibrationRunConfig) -> int:
    n = gold_comparisons(label_set).count()
    return min(n, config.pair_limit) if config.pair_limit else n


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    config = _config(options)
    require_drawable(inputs["version"], "comparison")
    n = gold_comparisons(inputs["label_set"]).count()
    if config.pair_limit > n:
        raise TrainingError(
            f"First N gold pairs: {config.pair_limit} asked for, but "
            f"{inputs['label_set'].name} holds only {n}.",
            field="pair_limit",
        )
    return {}


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    """Contiguous ranges of the gold pairs; one unit is one pair judged in both orders."""
    n = _pair_count(inputs["label_set"], _config(options))
    size = shard_size or DEFAULT_SHARD_SIZE
    return ShardPlan(
        shards=[(a, b, b - a) for a, b in split_evenly(n, size)],
        total_units=n,
        examples_total=n,
        shard_size=size,
    )


def build_config(options: dict[str, Any], run: Run, inputs: dict[str, Any]) -> CalibrationRunConfig:
    return _config(options)


def judge_label(run: Run) -> str:
    """The judge name this run's AI labels carry in the gold set (unique per run)."""
    suffix = f" · calibration #{run.pk}"
    name = need(run.judge_model, "judge model").name
    return name[: JUDGE_NAME_LIMIT - len(suffix)] + suffix


def after_create(run: Run, inputs: dict[str, Any], config: Any, user: Any) -> None:
    """The judge name is fixed now, so the run page links the set's slice from the start."""
    run.result = {
        **(run.result or {}),
        "judge_label": judge_label(run),
        "gold_set_id": inputs["label_set"].pk,
    }
    run.save(update_fields=["result"])


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """This shard's gold pairs, judged batch by batch in both orders.

    Each batch is one fenced transaction of AI labels keyed by (comparison, judge
    name), so a redelivered or resumed shard skips what is stored and nothing is
    labelled twice. A pair whose metadata carries a ``question`` of its own (the
    harmful-or-ethical set) is asked that question instead of the principles'.
    """
    from constitutions.selectors import version_content, version_with_content
    from labelling.services import AILabelInput, ailabel_bulk_create
    from training.engine.labeller import PairToLabel, label_pairs

    run = ctx.run
    config: CalibrationRunConfig = run.config_object()
    gold_set = need(run.label_set, "gold label set")
    judge_entry = need(run.judge_model, "judge model")
    label = str((run.result or {}).get("judge_label") or judge_label(run))
    content = version_content(version_with_content(need(run.constitution_version_id, "version")))
    rows = list(
        gold_comparisons(gold_set).values_list(
            "pk", "external_id", "prompt", "response_a", "response_b", "metadata"
        )[ctx.start : ctx.end]
    )
    done = set(
        AILabel.objects.filter(
            label_set=gold_set, judge=label, comparison_id__in=[r[0] for r in rows]
        ).values_list("comparison_id", flat=True)
    )
    todo = [r for r in rows if r[0] not in done]

    def report() -> None:
        ctx.progress(len(done), stage="judging", examples_done=len(done))

    report()
    for start in range(0, len(todo), config.batch_size):
        if ctx.should_stop():
            return False, {}
        batch = todo[start : start + config.batch_size]
        (judge,) = ctx.backends(judge_entry)
        pairs = [
            PairToLabel(
                index=pk,
                prompt=prompt,
                response_a=a,
                response_b=b,
                question=str((meta or {}).get("question") or ""),
            )
            for pk, _, prompt, a, b, meta in batch
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
        ext_of = {pk: ext for pk, ext, *_ in batch}
        with transaction.atomic():
            ctx.beat(stage="saving")  # the fence: a worker that lost the shard writes nothing
            ailabel_bulk_create(
                label_set=gold_set,
                labels=[
                    AILabelInput(
                        external_id=ext_of[lab.index],
                        judge=label,
                        verdict_ab=lab.verdict_ab,
                        verdict_ba=lab.verdict_ba,
                        p_a_ab=lab.p_a_ab,
                        p_a_ba=lab.p_a_ba,
                    )
                    for lab in labels
                ],
            )
        done.update(pk for pk, *_ in batch)
        report()
    figures = calibration_figures(gold_set, label)
    return True, {"labels": figures["n"], "judge_label": label, "calibration": figures}


def calibration_figures(gold_set: LabelSet, label: str) -> dict[str, Any]:
    """The run's figures from the audit's statistics (the gold set sliced by the judge
    name): plain numbers, so the run page and the model page read them without a query."""
    from labelling.selectors import Filters, labelset_statistics

    s = labelset_statistics(gold_set, Filters(judge=label))

    def rate(r: Any) -> dict[str, Any]:
        return {"rate": r.rate, "ci_low": r.ci_low, "ci_high": r.ci_high, "k": r.k, "n": r.n}

    return {
        "n": s.position_bias.n,
        # P(a) averaged over both orders against the gold label: the calibration
        # chart's pairs, all bins together (a pair at exactly 0.5 is left out).
        "accuracy": rate(mean_prob_accuracy(s.calibration)),
        # The set's own rule (agree: an order flip is a tie, a miss here).
        "accuracy_final": rate(s.agreements["debiased"].percent),
        "order_averaged_accuracy": s.accuracy.accuracy,
        "consistency": rate(s.position_bias.consistency),
        "mean_p_first": s.position_bias.mean_p_first,
        "bins": [
            {"lo": b.lo, "hi": b.hi, "n": b.n, "k": b.k, "mean_confidence": b.mean_confidence}
            for b in s.calibration
            if b.n
        ],
    }


def mean_prob_accuracy(bins: Any) -> Any:
    """k / n over every calibration bin, with its Wilson interval."""
    from labelling.stats import wilson_rate

    return wilson_rate(sum(b.k for b in bins), sum(b.n for b in bins))


def charts(run: Run) -> list[Chart]:
    """Accuracy and consistency with their intervals, and the reliability diagram:
    the statistics page's own charts, for this run's slice of the gold set."""
    from labelling import charts as label_charts
    from labelling.selectors import Filters, labelset_statistics

    label = (run.result or {}).get("judge_label")
    if not label or run.label_set is None:
        return []
    s = labelset_statistics(run.label_set, Filters(judge=str(label)))
    if not s.position_bias.n:
        return []
    bars = label_charts.rate_bars(
        [
            ("accuracy, mean P(a)", mean_prob_accuracy(s.calibration)),
            ("accuracy, agree rule", s.agreements["debiased"].percent),
            ("order AB only", s.agreements["ab"].percent),
            ("order BA only", s.agreements["ba"].percent),
            ("position-consistent", s.position_bias.consistency),
        ],
        title="Against the gold labels (Wilson 95%)",
        x_title="rate against the gold labels",
        y_title="measure",
        reference=0.5,
    )
    return [
        Chart(id="calibration-accuracy", svg=bars),
        Chart(id="calibration-reliability", svg=label_charts.reliability(s.calibration)),
    ]


def labels_produced(run: Run) -> int:
    return int((run.result or {}).get("labels") or run.examples_done or 0)


SPEC = KindSpec(
    name="calibration",
    label="Labeller calibration (gold set)",
    summary="Have a judge label a gold set in both orders and read its accuracy, position "
    "consistency and calibration before it labels anything that trains.",
    config_class=CalibrationRunConfig,
    form_class=LaunchCalibration,
    inputs=INPUTS,
    build_config=build_config,
    check=check,
    plan=plan,
    after_create=after_create,
    execute=execute,
    template="training/kinds/calibration.html",
    charts=charts,
    progress_unit="gold pairs judged (both orders)",
    parent=lambda run: None,
    labels_produced=labels_produced,
)

__all__ = ["CALIBRATION_MODES", "SPEC", "calibration_figures", "gold_label_sets", "judge_label"]
