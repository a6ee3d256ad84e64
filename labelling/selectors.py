"""Reads of the labelling app that views, exports and the ``labelstats`` command share.

Statistics are aggregated in SQL and handed to ``labelling.stats.*_from_counts``:
position bias from the per-slice tallies (a handful of rows, however many labels),
AI-human agreement and calibration from GROUP BYs over the reviewed comparisons only.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.http import Http404
from django.urls import reverse

from cai_web.models import Membership, Team

from . import formats, stats
from .models import (
    AILabel,
    AILabelTally,
    Comparison,
    FileJob,
    HumanReview,
    LabelSet,
    QueueItem,
    ReviewQueue,
)

SLICE_FIELDS = {"principle": "principle_key", "category": "category", "judge": "judge"}

# Human judgments by source (labelling.services.humans): the field of Comparison and of
# AILabel that holds each reference's verdict. "combined" is shown only on request.
HUMAN_REFERENCES: dict[str, str] = {
    "gold": "gold_verdict",
    "audit": "audit_verdict",
    "combined": "human_verdict",
}
REFERENCE_NAMES = {
    "gold": "gold (imported labels)",
    "audit": "audit (in-app reviews)",
    "combined": "combined consensus",
}


def _reference_field(reference: str) -> str:
    if reference not in HUMAN_REFERENCES:
        raise ValueError(
            f"reference must be one of {', '.join(HUMAN_REFERENCES)}, got {reference!r}"
        )
    return HUMAN_REFERENCES[reference]


def debiased_missing_q(prefix: str = "") -> Q:
    """AI labels whose final (debiased) label rests on a missing verdict or probability.

    The stored ``final`` of such a label is "tie" (what training uses), but for the
    statistics it is *no verdict*: a miss in percent, out of kappa, counted.
    """
    return Q(**{f"{prefix}rule": "agree", f"{prefix}consistent__isnull": True}) | Q(
        **{f"{prefix}rule": "mean_prob", f"{prefix}p_debiased__isnull": True}
    )


def debiased_verdict_expr() -> Case:
    """SQL for the AI label's debiased verdict as the statistics count it (NULL = none)."""
    return Case(When(debiased_missing_q(), then=Value(None)), default=F("final"))


# ------------------------------------------------------------ human judgments by source


@dataclass(frozen=True)
class HumanJudgments:
    """A comparison's human judgments, by source (gold = imported, audit = in-app)."""

    gold: str | None
    gold_labels: list[tuple[str, str]]  # (reviewer name, verdict)
    audit: str | None
    audit_reviews: list[HumanReview]
    combined: str | None


def comparison_gold_verdict(comparison: Comparison) -> str | None:
    """The gold label of a comparison (strict majority of its imported labels), or None."""
    return comparison.gold_verdict


def comparison_audit_reviews(comparison: Comparison) -> QuerySet[HumanReview]:
    """The in-app (audit) reviews of a comparison, oldest first."""
    return (
        HumanReview.objects.filter(comparison=comparison, source=HumanReview.Source.APP)
        .select_related("reviewer")
        .order_by("created_at", "pk")
    )


def comparison_human_judgments(comparison: Comparison) -> HumanJudgments:
    """Gold, audit and combined verdicts of one comparison, with the rows behind them."""
    gold = list(
        HumanReview.objects.filter(comparison=comparison, source=HumanReview.Source.IMPORT)
        .order_by("pk")
        .values_list("reviewer_name", "verdict")
    )
    return HumanJudgments(
        gold=comparison.gold_verdict,
        gold_labels=gold,
        audit=comparison.audit_verdict,
        audit_reviews=list(comparison_audit_reviews(comparison)),
        combined=comparison.human_verdict,
    )


def ai_human_disagreements(
    label_set: LabelSet,
    *,
    reference: str = "gold",
    filters: Filters | None = None,
    include_both_bad: bool = False,
) -> QuerySet[AILabel]:
    """AI labels whose debiased verdict differs from the ``reference`` human verdict.

    Only labels with an AI verdict (see :func:`debiased_missing_q`) and a human verdict
    of that reference count; a human "both unacceptable" counts as a disagreement only
    with ``include_both_bad``. Annotated with ``ai_verdict`` and ``reference_verdict``.
    """
    field_name = _reference_field(reference)
    q = Q(label_set=label_set, reviewed=True, **{f"{field_name}__isnull": False})
    if not include_both_bad:
        q &= ~Q(**{field_name: "both_bad"})
    if filters is not None:
        q &= filters.q()
    return (
        AILabel.objects.filter(q)
        .exclude(debiased_missing_q())
        .exclude(final=F(field_name))
        .annotate(ai_verdict=F("final"), reference_verdict=F(field_name))
        .select_related("comparison")
        .order_by("comparison_id", "judge")
    )


# ---------------------------------------------------------------------- lookups


def labelset_get(*, team: Team, pk: int) -> LabelSet:
    label_set = LabelSet.objects.filter(team=team, pk=pk).select_related("decided_by").first()
    if label_set is None:
        raise Http404("No such label set.")
    return label_set


def queue_get(*, team: Team, pk: int) -> ReviewQueue:
    queue = (
        ReviewQueue.objects.filter(label_set__team=team, pk=pk).select_related("label_set").first()
    )
    if queue is None:
        raise Http404("No such queue.")
    return queue


def labelset_list(*, team: Team) -> QuerySet[LabelSet]:
    return (
        LabelSet.objects.filter(team=team)
        .select_related("decided_by")
        .order_by("-created_at", "-pk")
    )


def dashboard_panel(*, team: Team, membership: Membership) -> dict[str, Any]:
    sets = list(labelset_list(team=team)[:5])
    return {
        "id": "labelling",
        "title": "Label sets",
        "url": reverse("labelset_list", args=[team.slug]),
        "template": "labelling/panel.html",
        "label_sets": sets,
        "team": team,
    }


# ------------------------------------------------------------------------ filtering


@dataclass(frozen=True)
class Filters:
    """A slice of a label set: empty strings mean "all"."""

    judge: str = ""
    principle: str = ""
    category: str = ""

    def q(self, prefix: str = "") -> Q:
        q = Q()
        if self.judge:
            q &= Q(**{f"{prefix}judge": self.judge})
        if self.principle:
            q &= Q(**{f"{prefix}principle_key": _unslice(self.principle)})
        if self.category:
            q &= Q(**{f"{prefix}category": _unslice(self.category)})
        return q

    def comparison_q(self, prefix: str = "") -> Q:
        """The same slice for comparisons and reviews (judge does not apply to people)."""
        q = Q()
        if self.principle:
            q &= Q(**{f"{prefix}principle_key": _unslice(self.principle)})
        if self.category:
            q &= Q(**{f"{prefix}category": _unslice(self.category)})
        return q

    @property
    def active(self) -> bool:
        return bool(self.judge or self.principle or self.category)


def _unslice(value: str) -> str:
    return "" if value == stats.UNSET_SLICE else value


def _slice_name(value: str | None) -> str:
    return value if value else stats.UNSET_SLICE


# ----------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class AuditSummary:
    """What the in-app reviews of a label set say: agreement of its final AI label with them.

    One row per (in-app review, AI label of its comparison). An AI label whose final
    label rests on a missing verdict is *no verdict* (a miss, out of kappa), never a
    tie. Only a reading; whether that is enough to approve the set is the approval
    service's rule (``labelling.services.labelset_approval_gate``).
    """

    agreement: stats.Agreement
    n_reviews: int


@dataclass(frozen=True)
class AuditorGold:
    """In-app reviews against the gold label of the same comparison (both_bad a category)."""

    overall: stats.RaterAgreement
    by_reviewer: list[tuple[str, stats.RaterAgreement]]
    n_reviews: int  # every in-app review
    n_with_gold: int  # those on a comparison with a gold label


@dataclass(frozen=True)
class SliceRow:
    value: str
    position_bias: stats.PositionBias
    agreement: stats.Agreement  # debiased, against the primary reference
    agreements: dict[str, stats.Agreement] = field(default_factory=dict)  # by reference


@dataclass(frozen=True)
class LabelSetStatistics:
    """Every figure of one slice of a label set.

    ``agreements_by_reference[ref][source]`` for ref in ``references`` ("gold" and
    "audit"; "combined" only when asked for), source "ab", "ba" or "debiased".
    ``agreements``, ``accuracy`` and ``calibration`` are those of ``primary``: gold
    when the set has gold labels, else audit.
    """

    label_set: LabelSet
    filters: Filters
    position_bias: stats.PositionBias
    agreements: dict[str, stats.Agreement]
    accuracy: stats.OrderAveragedAccuracy
    human: stats.HumanAgreement
    calibration: list[stats.CalibrationBin]
    audit: AuditSummary
    by: str = ""
    slices: list[SliceRow] = field(default_factory=list)
    primary: str = "gold"
    references: tuple[str, ...] = ("gold", "audit")
    agreements_by_reference: dict[str, dict[str, stats.Agreement]] = field(default_factory=dict)
    accuracy_by_reference: dict[str, stats.OrderAveragedAccuracy] = field(default_factory=dict)
    calibration_by_reference: dict[str, list[stats.CalibrationBin]] = field(default_factory=dict)
    auditor_vs_gold: AuditorGold | None = None
    gold_count: int = 0  # comparisons of the slice with a gold label
    audit_count: int = 0  # comparisons of the slice with an in-app review


def slice_options(label_set: LabelSet) -> dict[str, list[str]]:
    rows = AILabelTally.objects.filter(label_set=label_set).values_list(
        "judge", "principle_key", "category"
    )
    judges, principles, categories = set(), set(), set()
    for judge, principle, category in rows:
        judges.add(judge)
        principles.add(_slice_name(principle))
        categories.add(_slice_name(category))
    return {
        "judge": sorted(judges),
        "principle": sorted(principles),
        "category": sorted(categories),
    }


def _position_bias_by(
    label_set: LabelSet, filters: Filters, by: str = ""
) -> dict[str, stats.PositionBias]:
    """Position bias from the tallies, for the whole slice ("") or per value of ``by``."""
    field_name = SLICE_FIELDS.get(by)
    tables: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    probs: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    rows = AILabelTally.objects.filter(Q(label_set=label_set) & filters.q()).values_list(
        "judge",
        "principle_key",
        "category",
        "verdict_ab",
        "verdict_ba",
        "n",
        "n_p_ab",
        "sum_p_ab",
        "n_p_ba",
        "sum_p_ba",
    )
    for judge, principle, category, v_ab, v_ba, n, n_ab, s_ab, n_ba, s_ba in rows:
        values = {"judge": judge, "principle_key": principle, "category": category}
        key = _slice_name(values[field_name]) if field_name else ""
        tables[key][(v_ab, v_ba)] += n
        # P(first slot): p_a_ab in order AB, 1 - p_a_ba in order BA.
        probs[key][0] += n_ab + n_ba
        probs[key][1] += s_ab + (n_ba - s_ba)
    if not tables and not field_name:
        tables[""] = defaultdict(int)
    out = {}
    for key in sorted(tables):
        n_prob, total = probs[key]
        mean = None if not n_prob else min(1.0, max(0.0, total / n_prob))
        out[key] = stats.position_bias_from_counts(
            tables[key], mean_p_first=mean, n_prob=int(n_prob)
        )
    return out


AgreementCounts = dict[str, dict[str, dict[str, dict]]]  # slice -> reference -> source -> counts


def _agreement_counts(
    label_set: LabelSet, filters: Filters, references: tuple[str, ...], by: str = ""
) -> AgreementCounts:
    """{slice: {reference: {source: {(ai, human): n}}}} over the reviewed AI labels.

    The debiased AI verdict is ``debiased_verdict_expr`` (NULL where the final label
    rests on a missing verdict); labels not reviewed are added by the caller as no-human.
    """
    field_name = SLICE_FIELDS.get(by)
    ref_fields = [HUMAN_REFERENCES[r] for r in references]
    group = ["verdict_ab", "verdict_ba", "debiased", *ref_fields]
    if field_name:
        group.append(field_name)
    rows = (
        AILabel.objects.filter(Q(label_set=label_set, reviewed=True) & filters.q())
        .annotate(debiased=debiased_verdict_expr())
        .values(*group)
        .annotate(n=Count("id"))
        .order_by()
    )
    out: AgreementCounts = defaultdict(
        lambda: {
            r: {"ab": defaultdict(int), "ba": defaultdict(int), "debiased": defaultdict(int)}
            for r in references
        }
    )
    for row in rows:
        key = _slice_name(row[field_name]) if field_name else ""
        n = row["n"]
        for ref, ref_field in zip(references, ref_fields, strict=True):
            human = row[ref_field]
            c = out[key][ref]
            c["ab"][(row["verdict_ab"], human)] += n
            c["ba"][(row["verdict_ba"], human)] += n
            c["debiased"][(row["debiased"], human)] += n
    return out


def _with_unreviewed(counts: dict, total: int) -> dict:
    """Counts plus the AI labels not in them (not reviewed) as (None, None)."""
    c = dict(counts)
    missing = total - sum(c.values())
    if missing > 0:
        c[(None, None)] = c.get((None, None), 0) + missing
    return c


def _calibration_by_reference(
    label_set: LabelSet, filters: Filters, references: tuple[str, ...]
) -> dict[str, list[stats.CalibrationBin]]:
    """``stats.calibration`` computed in SQL for each reference, in one GROUP BY.

    The same edges and bin rule (``calibration_edges``; ``CASE WHEN confidence >=
    edge``, i.e. ``calibration_bin_of``) and the same agreement rule: the side the
    judge leans to (a if p > 0.5) is the human's a or b; p = 0.5 is left out.
    """
    ref_fields = [_reference_field(r) for r in references]
    bins = stats.CALIBRATION_BINS
    edges = stats.calibration_edges(bins)
    bin_expr = Case(
        *[When(confidence__gte=edges[b], then=b) for b in range(bins - 1, 0, -1)],
        default=0,
        output_field=IntegerField(),
    )
    lean_expr = Case(When(p_debiased__gt=0.5, then=Value("a")), default=Value("b"))
    any_ab = Q()
    for f in ref_fields:
        any_ab |= Q(**{f"{f}__in": ("a", "b")})
    rows = (
        AILabel.objects.filter(
            Q(label_set=label_set, reviewed=True, p_debiased__isnull=False)
            & ~Q(p_debiased=0.5)
            & any_ab
            & filters.q()
        )
        .annotate(bin=bin_expr, lean=lean_expr)
        .values("bin", "lean", *ref_fields)
        .annotate(n=Count("id"), conf=Sum("confidence"))
        .order_by()
    )
    acc: dict[str, dict[int, list]] = {r: defaultdict(lambda: [0, 0, 0.0]) for r in references}
    for row in rows:
        for ref, f in zip(references, ref_fields, strict=True):
            if row[f] not in ("a", "b"):
                continue
            cell = acc[ref][row["bin"]]
            cell[0] += row["n"]
            cell[1] += row["n"] if row[f] == row["lean"] else 0
            cell[2] += row["conf"] or 0.0
    return {
        ref: stats.calibration_from_counts({b: tuple(v) for b, v in acc[ref].items()}, bins)
        for ref in references
    }


def _calibration(
    label_set: LabelSet, filters: Filters, reference: str = "gold"
) -> list[stats.CalibrationBin]:
    """The calibration table against one reference (see :func:`_calibration_by_reference`)."""
    return _calibration_by_reference(label_set, filters, (reference,))[reference]


def _human_agreement(label_set: LabelSet, filters: Filters) -> stats.HumanAgreement:
    """Human-human agreement, cached until a review of the set is added or removed.

    statsmodels' Cohen's kappa costs ~5 ms a reviewer pair (it builds scipy
    distributions for its p-values), so 20 reviewers cost about a second; the
    figures change only when reviews do, and the cache key captures that.
    """
    reviews = HumanReview.objects.filter(
        Q(label_set=label_set, comparison__review_count__gte=2)
        & filters.comparison_q("comparison__")
    )
    state = HumanReview.objects.filter(label_set=label_set).aggregate(
        n=Count("id"), last=Max("id"), at=Max("created_at")
    )
    key = (
        "labelling:hh:v2:"
        + hashlib.sha256(
            repr(
                (
                    label_set.pk,
                    label_set.created_at,
                    filters,
                    state["n"],
                    state["last"],
                    state["at"],
                )
            ).encode()
        ).hexdigest()
    )
    cached = cache.get(key)
    if cached is None:
        cached = _compute_human_agreement(reviews)
        cache.set(key, cached, 3600)
    return cached


def _compute_human_agreement(reviews: QuerySet[HumanReview]) -> stats.HumanAgreement:
    rows = reviews.values_list("comparison_id", "reviewer_name", "verdict")
    seen: set[tuple[int, str]] = set()
    out = []
    for cid, name, verdict in rows.order_by("comparison_id", "pk"):
        if (cid, name) in seen:  # an app user who shares an imported annotator's name
            continue
        seen.add((cid, name))
        out.append((str(cid), name, verdict))
    return stats.human_agreement(out)


_DEBIASED_SQL = (
    "CASE WHEN (l.rule = 'agree' AND l.consistent IS NULL) "
    "OR (l.rule = 'mean_prob' AND l.p_debiased IS NULL) THEN NULL ELSE l.final END"
)


def audit_summary(label_set: LabelSet) -> AuditSummary:
    """Agreement of the set's final (debiased) AI label with each in-app review."""
    # Reviews join the AI labels of their comparison directly on comparison_id (the
    # ORM would route through the comparison table, 40k extra lookups at 20k
    # reviews); only labels marked reviewed qualify, through their partial index.
    # _DEBIASED_SQL is debiased_verdict_expr: a label with a missing verdict is a miss.
    sql = f"""
        SELECT r.verdict, {_DEBIASED_SQL}, COUNT(*)
        FROM {HumanReview._meta.db_table} r
        JOIN {AILabel._meta.db_table} l ON l.comparison_id = r.comparison_id AND l.reviewed
        WHERE r.label_set_id = %s AND l.label_set_id = %s AND r.source = %s
        GROUP BY 1, 2
    """
    counts: dict[tuple, int] = defaultdict(int)
    n_reviews = HumanReview.objects.filter(
        label_set=label_set, source=HumanReview.Source.APP
    ).count()
    with connection.cursor() as cursor:
        cursor.execute(sql, [label_set.pk, label_set.pk, HumanReview.Source.APP])
        for verdict, final, n in cursor.fetchall():
            counts[(final, verdict)] += n
    return AuditSummary(
        agreement=stats.agreement_from_counts(counts, "debiased"), n_reviews=n_reviews
    )


def auditor_vs_gold(
    label_set: LabelSet, filters: Filters | None = None, *, any_gold: bool = True
) -> AuditorGold:
    """Each in-app review against the gold label of its comparison, overall and per reviewer.

    ``any_gold=False`` (the caller counted no gold label in the slice) skips the join.
    """
    filters = filters or Filters()
    reviews = HumanReview.objects.filter(
        Q(label_set=label_set, source=HumanReview.Source.APP) & filters.comparison_q("comparison__")
    )
    # review_count > 0 lets the comparisons come from their partial index (the reviewed
    # few) instead of a scan of the whole set's comparisons.
    rows = (
        reviews.filter(
            comparison__label_set=label_set,
            comparison__review_count__gt=0,
            comparison__gold_verdict__isnull=False,
        )
        .values("reviewer_name", "verdict", "comparison__gold_verdict")
        .annotate(n=Count("id"))
        .order_by()
        if any_gold
        else []
    )
    overall: dict[tuple[str, str], int] = defaultdict(int)
    per: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        key = (r["verdict"], r["comparison__gold_verdict"])
        overall[key] += r["n"]
        per[r["reviewer_name"]][key] += r["n"]
    return AuditorGold(
        overall=stats.rater_agreement_from_counts(overall),
        by_reviewer=[
            (name, stats.rater_agreement_from_counts(c)) for name, c in sorted(per.items())
        ],
        n_reviews=reviews.count(),
        n_with_gold=sum(overall.values()),
    )


def _order_averaged(ab: stats.Agreement, ba: stats.Agreement) -> stats.OrderAveragedAccuracy:
    n = ab.percent.n + ba.percent.n
    acc = None if n == 0 else (ab.percent.k + ba.percent.k) / n
    return stats.OrderAveragedAccuracy(ab=ab.percent, ba=ba.percent, accuracy=acc)


def labelset_statistics(
    label_set: LabelSet, filters: Filters | None = None, by: str = "", *, combined: bool = False
) -> LabelSetStatistics:
    """Every figure the statistics page, the command and the audit show, for one slice.

    AI-human agreement is computed against gold and against audit, each on its own;
    against the combined consensus only with ``combined=True``.
    """
    filters = filters or Filters()
    if by and by not in SLICE_FIELDS:
        raise ValueError(f"by must be one of {', '.join(SLICE_FIELDS)}")
    references: tuple[str, ...] = ("gold", "audit", "combined") if combined else ("gold", "audit")
    bias = _position_bias_by(label_set, filters)[""]
    # review_count > 0 reads only the reviewed comparisons (comparison_reviewed_idx).
    counted = Comparison.objects.filter(
        Q(label_set=label_set, review_count__gt=0) & filters.comparison_q()
    ).aggregate(
        gold=Count("id", filter=Q(gold_count__gt=0)),
        audit=Count("id", filter=Q(audit_count__gt=0)),
    )
    primary = "gold" if counted["gold"] or not counted["audit"] else "audit"
    counts = _agreement_counts(label_set, filters, references).get("")
    by_ref: dict[str, dict[str, stats.Agreement]] = {}
    for ref in references:
        c = counts[ref] if counts else {"ab": {}, "ba": {}, "debiased": {}}
        by_ref[ref] = {
            source: stats.agreement_from_counts(_with_unreviewed(c[source], bias.n), source)
            for source in ("ab", "ba", "debiased")
        }
    accuracy = {ref: _order_averaged(a["ab"], a["ba"]) for ref, a in by_ref.items()}
    calibration = _calibration_by_reference(label_set, filters, references)
    slices = []
    if by:
        bias_by = _position_bias_by(label_set, filters, by)
        agree_by = _agreement_counts(label_set, filters, references, by)
        for value, pb in bias_by.items():
            row = {
                ref: stats.agreement_from_counts(
                    _with_unreviewed(
                        agree_by[value][ref]["debiased"] if value in agree_by else {}, pb.n
                    ),
                    "debiased",
                )
                for ref in references
            }
            slices.append(SliceRow(value, pb, row[primary], row))
    return LabelSetStatistics(
        label_set=label_set,
        filters=filters,
        position_bias=bias,
        agreements=by_ref[primary],
        accuracy=accuracy[primary],
        human=_human_agreement(label_set, filters),
        calibration=calibration[primary],
        audit=audit_summary(label_set),
        by=by,
        slices=slices,
        primary=primary,
        references=references,
        agreements_by_reference=by_ref,
        accuracy_by_reference=accuracy,
        calibration_by_reference=calibration,
        auditor_vs_gold=auditor_vs_gold(label_set, filters, any_gold=bool(counted["gold"])),
        gold_count=counted["gold"],
        audit_count=counted["audit"],
    )


# ---------------------------------------------------------------------------- review


def _reviewed_by(user):
    return Exists(HumanReview.objects.filter(reviewer=user, comparison=OuterRef("comparison")))


def queue_next_item(queue: ReviewQueue, user) -> QueueItem | None:
    """The first item of the queue this user has not reviewed."""
    return (
        QueueItem.objects.filter(queue=queue)
        .filter(~_reviewed_by(user))
        .order_by("position")
        .first()
    )


def queue_item_at(queue: ReviewQueue, position: int) -> QueueItem:
    item = (
        QueueItem.objects.filter(queue=queue, position=position)
        .select_related("comparison__principle__category")
        .first()
    )
    if item is None:
        raise Http404("No such item.")
    return item


def _reviewed_in_app():
    return Exists(
        HumanReview.objects.filter(comparison=OuterRef("comparison"), source=HumanReview.Source.APP)
    )


def queue_progress(queue: ReviewQueue, user) -> dict[str, int]:
    """``total`` items; ``reviewed``: those anyone reviewed in the app; ``done``: by ``user``."""
    agg = QueueItem.objects.filter(queue=queue).aggregate(
        total=Count("id"),
        reviewed=Count("id", filter=Q(_reviewed_in_app())),
        done=Count("id", filter=Q(_reviewed_by(user))),
    )
    return {"total": agg["total"], "reviewed": agg["reviewed"], "done": agg["done"]}


def queue_items(queue: ReviewQueue, user, limit: int = 50) -> list[QueueItem]:
    """The first ``limit`` items, each marked ``mine`` (``user`` reviewed it) and ``reviewed`` (anyone)."""
    return list(
        QueueItem.objects.filter(queue=queue)
        .select_related("comparison")
        .annotate(mine=_reviewed_by(user), reviewed=_reviewed_in_app())
        .order_by("position")[:limit]
    )


def queue_list(label_set: LabelSet) -> QuerySet[ReviewQueue]:
    return (
        ReviewQueue.objects.filter(label_set=label_set)
        .select_related("created_by")
        .annotate(items_count=Count("items"))
        .order_by("-created_at", "-pk")
    )


# ---------------------------------------------------------------------------- export


def export_records(label_set: LabelSet, chunk: int = 2000) -> Iterator[formats.LabelRecord]:
    """Every AI label of the set as a LabelRecord, with all human labels (our JSONL format)."""
    ids = list(
        Comparison.objects.filter(label_set=label_set).order_by("pk").values_list("pk", flat=True)
    )
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        comparisons = Comparison.objects.filter(pk__in=part).order_by("pk")
        labels: dict[int, list[AILabel]] = defaultdict(list)
        for lab in AILabel.objects.filter(comparison_id__in=part).order_by(
            "comparison_id", "judge"
        ):
            labels[lab.comparison_id].append(lab)
        humans: dict[int, list[HumanReview]] = defaultdict(list)
        for rev in HumanReview.objects.filter(comparison_id__in=part).order_by(
            "comparison_id", "pk"
        ):
            humans[rev.comparison_id].append(rev)
        for c in comparisons:
            revs = humans[c.pk]
            human = None
            hl: tuple[formats.HumanLabel, ...] = ()
            if (
                len(revs) == 1
                and revs[0].source == HumanReview.Source.IMPORT
                and revs[0].reviewer_name == "imported"
            ):
                human = revs[0].verdict
            else:
                hl = tuple(
                    formats.HumanLabel(reviewer=r.reviewer_name, verdict=r.verdict) for r in revs
                )
            labs = labels[c.pk] or [None]
            for lab in labs:
                rid = c.external_id if len(labs) == 1 else f"{c.external_id}@{lab.judge}"
                yield formats.LabelRecord(
                    id=rid,
                    prompt=c.prompt,
                    response_a=c.response_a,
                    response_b=c.response_b,
                    judge=lab.judge if lab else formats.NO_JUDGE,
                    verdict_ab=lab.verdict_ab if lab else None,
                    verdict_ba=lab.verdict_ba if lab else None,
                    p_a_ab=lab.p_a_ab if lab else None,
                    p_a_ba=lab.p_a_ba if lab else None,
                    human=human,
                    humans=hl,
                    principle=c.principle_key or None,
                    metadata=c.metadata or {},
                )


def filejob_get(*, team, pk: int) -> FileJob:
    """A file job of ``team``; 404 for anyone else's."""
    job = FileJob.objects.filter(team=team, pk=pk).first()
    if job is None:
        raise Http404("No such job.")
    return job


def filejob_list(*, team, kind: str | None = None, result_id: int | None = None):
    qs = FileJob.objects.filter(team=team)
    if kind:
        qs = qs.filter(kind=kind)
    if result_id is not None:
        qs = qs.filter(result_id=result_id)
    return qs


_RESULT_PAGES = {
    FileJob.Kind.LABEL_IMPORT: "labelset_detail",
    FileJob.Kind.LABEL_EXPORT: "labelset_detail",
    FileJob.Kind.PROMPT_IMPORT: "promptset_detail",
    FileJob.Kind.DATASET_EXPORT: "run_results",
}


def filejob_result_url(job: FileJob) -> str | None:
    """The page of what the job made or exported, once there is one."""
    from django.urls import reverse

    if job.result_id is None or (job.kind.endswith("import") and job.status != "done"):
        return None
    return reverse(_RESULT_PAGES[FileJob.Kind(job.kind)], args=[job.team.slug, job.result_id])
