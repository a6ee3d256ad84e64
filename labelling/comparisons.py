"""Reads of a label set's comparison table (the label-set page) and of one comparison.

The table is a keyset page: ``WHERE label_set = ? AND id > ? ORDER BY id LIMIT 51``
over the ``comparison_set_id_idx`` index, so a page of a million-comparison set costs
what a page of a small one does, and nothing counts the whole set (the set's own
``comparison_count`` is the unfiltered total; a filtered count stops at
:data:`COUNT_CAP`). Filters on the AI label (consistency, margin, judge) are
``EXISTS`` probes of the unique (comparison, judge) index; the disagreement filter
asks :func:`labelling.selectors.ai_human_disagreements`, the one definition of an
AI-human disagreement. Text search is a plain case-insensitive ``LIKE`` over the
prompt, both responses and the id: it reads rows until a page is full, so a rare
term on a huge set is the one slow case (docs/review.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from . import selectors
from .models import AILabel, Comparison, HumanReview, LabelSet

PAGE_SIZE = 50
COUNT_CAP = 1000
# "Low margin": the debiased P(a) within this distance of 0.5 (confidence below 0.5 + m).
MARGINS = (0.05, 0.1, 0.2)
CONSISTENCY = ("consistent", "inconsistent", "no_verdict")
REVIEWED = ("yes", "no")


@dataclass(frozen=True)
class ComparisonFilters:
    """What the comparison table shows; empty values mean "all"."""

    consistency: str = ""
    margin: float | None = None
    reviewed: str = ""
    disagree: str = ""  # a key of selectors.HUMAN_REFERENCES
    judge: str = ""
    principle: str = ""
    category: str = ""
    q: str = ""

    def __post_init__(self) -> None:
        if self.consistency and self.consistency not in CONSISTENCY:
            raise ValueError(f"consistency must be one of {', '.join(CONSISTENCY)}")
        if self.reviewed and self.reviewed not in REVIEWED:
            raise ValueError("reviewed must be yes or no")
        if self.disagree and self.disagree not in selectors.HUMAN_REFERENCES:
            raise ValueError(f"disagree must be one of {', '.join(selectors.HUMAN_REFERENCES)}")
        if self.margin is not None and not 0.0 < self.margin <= 0.5:
            raise ValueError("margin must be in (0, 0.5]")

    @property
    def active(self) -> bool:
        return any(
            (
                self.consistency,
                self.margin is not None,
                self.reviewed,
                self.disagree,
                self.judge,
                self.principle,
                self.category,
                self.q,
            )
        )

    def label_q(self) -> Q | None:
        """Conditions on one AI label of the comparison, or None when there are none."""
        q = Q()
        if self.judge:
            q &= Q(judge=self.judge)
        if self.consistency == "consistent":
            q &= Q(consistent=True)
        elif self.consistency == "inconsistent":
            q &= Q(consistent=False)
        elif self.consistency == "no_verdict":
            q &= Q(consistent__isnull=True)
        if self.margin is not None:
            q &= Q(confidence__lt=0.5 + self.margin)
        return q if q.children else None


@dataclass
class ComparisonRow:
    comparison: Comparison
    labels: list[AILabel] = field(default_factory=list)

    @property
    def label(self) -> AILabel | None:
        """The label the row shows: the first judge's (or the filtered judge's)."""
        return self.labels[0] if self.labels else None

    @property
    def disagrees_with_gold(self) -> bool:
        gold = self.comparison.gold_verdict
        lab = self.label
        return (
            lab is not None
            and gold in ("a", "b", "tie")
            and not _missing(lab)
            and lab.final != gold
        )


def _missing(label: AILabel) -> bool:
    """The statistics' "no verdict" (selectors.debiased_missing_q, for one row in Python)."""
    if label.rule == "mean_prob":
        return label.p_debiased is None
    return label.consistent is None


@dataclass(frozen=True)
class ComparisonPage:
    rows: list[ComparisonRow]
    next_after: int | None
    prev_before: int | None
    first_page: bool
    # Matching comparisons, counted up to COUNT_CAP (None when nothing is filtered:
    # the set's comparison_count is the total then).
    matching: int | None
    capped: bool


def comparison_queryset(label_set: LabelSet, filters: ComparisonFilters) -> QuerySet[Comparison]:
    qs = Comparison.objects.filter(label_set=label_set)
    if filters.principle:
        qs = qs.filter(principle_key=_unslice(filters.principle))
    if filters.category:
        qs = qs.filter(category=_unslice(filters.category))
    if filters.reviewed == "yes":
        qs = qs.filter(audit_count__gt=0)
    elif filters.reviewed == "no":
        qs = qs.filter(audit_count=0)
    label_q = filters.label_q()
    if label_q is not None:
        qs = qs.filter(Exists(AILabel.objects.filter(label_q, comparison=OuterRef("pk"))))
    if filters.disagree:
        disagreeing = selectors.ai_human_disagreements(
            label_set,
            reference=filters.disagree,
            filters=selectors.Filters(judge=filters.judge) if filters.judge else None,
        )
        qs = qs.filter(pk__in=disagreeing.order_by().values("comparison_id"))
    if filters.q:
        term = filters.q
        qs = qs.filter(
            Q(prompt__icontains=term)
            | Q(response_a__icontains=term)
            | Q(response_b__icontains=term)
            | Q(external_id__icontains=term)
        )
    return qs


def _unslice(value: str) -> str:
    from .stats import UNSET_SLICE

    return "" if value == UNSET_SLICE else value


def comparison_page(
    label_set: LabelSet,
    filters: ComparisonFilters,
    *,
    after: int | None = None,
    before: int | None = None,
    size: int | None = None,
) -> ComparisonPage:
    """One page of the table: ``size`` (PAGE_SIZE) comparisons after id ``after`` (or
    before ``before``), with their AI labels (one query for the page)."""
    size = size or PAGE_SIZE
    qs = comparison_queryset(label_set, filters).only(
        "id",
        "external_id",
        "prompt",
        "principle_key",
        "category",
        "gold_verdict",
        "audit_verdict",
        "audit_count",
        "flagged_harmful",
        "label_set_id",
    )
    if before is not None:
        found = list(qs.filter(pk__lt=before).order_by("-pk")[: size + 1])
        more_before = len(found) > size
        found = list(reversed(found[:size]))
        has_next = True
        first_page = not more_before
    else:
        if after is not None:
            qs = qs.filter(pk__gt=after)
        found = list(qs.order_by("pk")[: size + 1])
        has_next = len(found) > size
        found = found[:size]
        first_page = after is None
    labels: dict[int, list[AILabel]] = defaultdict(list)
    label_qs = AILabel.objects.filter(comparison_id__in=[c.pk for c in found])
    if filters.judge:
        label_qs = label_qs.filter(judge=filters.judge)
    for lab in label_qs.order_by("comparison_id", "judge"):
        labels[lab.comparison_id].append(lab)
    matching = None
    capped = False
    if filters.active:
        matching = comparison_queryset(label_set, filters)[: COUNT_CAP + 1].count()
        capped = matching > COUNT_CAP
        matching = min(matching, COUNT_CAP)
    return ComparisonPage(
        rows=[ComparisonRow(c, labels[c.pk]) for c in found],
        next_after=found[-1].pk if found and has_next else None,
        prev_before=found[0].pk if found and not first_page else None,
        first_page=first_page,
        matching=matching,
        capped=capped,
    )


def comparison_filter_options(label_set: LabelSet) -> dict[str, list[str]]:
    """Judges, principles and categories to filter by (from the tallies: a few rows)."""
    options = selectors.slice_options(label_set)
    if not options["judge"] and label_set.comparison_count <= 10_000:
        # A set without AI labels has no tallies; a small one can afford DISTINCT.
        base = Comparison.objects.filter(label_set=label_set).order_by()
        options["principle"] = sorted(
            {_slice_name(v) for v in base.values_list("principle_key", flat=True).distinct()}
        )
        options["category"] = sorted(
            {_slice_name(v) for v in base.values_list("category", flat=True).distinct()}
        )
    return options


def _slice_name(value: str | None) -> str:
    from .stats import UNSET_SLICE

    return value if value else UNSET_SLICE


@dataclass(frozen=True)
class ComparisonDetail:
    comparison: Comparison
    labels: list[AILabel]
    humans: Any  # selectors.HumanJudgments
    reviews: list[HumanReview]


def comparison_get(*, label_set: LabelSet, pk: int) -> ComparisonDetail:
    """One comparison of ``label_set`` with its AI labels and human judgments; 404 otherwise."""
    c = (
        Comparison.objects.filter(label_set=label_set, pk=pk)
        .select_related("principle__category")
        .first()
    )
    if c is None:
        raise Http404("No such comparison in this label set.")
    humans = selectors.comparison_human_judgments(c)
    return ComparisonDetail(
        comparison=c,
        labels=list(c.ai_labels.order_by("judge")),
        humans=humans,
        reviews=humans.audit_reviews,
    )
