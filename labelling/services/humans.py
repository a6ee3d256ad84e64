"""Human judgments by source: gold labels imported with a set, audit reviews made in the app.

A comparison's human judgments are kept apart by where they came from
(``HumanReview.source``): ``import`` rows are **gold** (the expert or paper label the
data came with), ``app`` rows are **audit** reviews. Each source has its own strict
majority, stored on the comparison (``gold_verdict``, ``audit_verdict``) and mirrored
onto its AI labels, so no number of in-app reviews can move a gold figure. The
**combined** consensus (``human_verdict``) is the strict majority of every verdict of
both sources, one vote each; pages show it only when the user picks it.

:func:`comparison_refresh_human` is the one place these fields are computed; every
writer of a ``HumanReview`` calls it in the same transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction

from ..models import AILabel, Comparison, HumanReview, HumanVerdict, LabelSet
from .common import BATCH, LabellingError, iter_chunks

COMBINED_RULE = (
    "strict majority of every human verdict, gold and audit alike (one vote each); "
    "no majority means no combined label"
)


def consensus(verdicts: Sequence[str]) -> str | None:
    """The verdict a strict majority gave, else None (as ``LabelRecord.majority_human``)."""
    if not verdicts:
        return None
    verdict, count = Counter(verdicts).most_common(1)[0]
    return verdict if count * 2 > len(verdicts) else None


@dataclass(frozen=True)
class HumanVerdicts:
    """What the human judgments of one comparison say, by source."""

    gold: str | None
    gold_count: int
    audit: str | None
    audit_count: int
    combined: str | None

    @property
    def count(self) -> int:
        return self.gold_count + self.audit_count


def human_verdicts_of(*, gold: Sequence[str], audit: Sequence[str]) -> HumanVerdicts:
    """The three verdicts from the raw gold and audit verdict lists (plain data)."""
    return HumanVerdicts(
        gold=consensus(gold),
        gold_count=len(gold),
        audit=consensus(audit),
        audit_count=len(audit),
        combined=consensus([*gold, *audit]),
    )


def comparison_refresh_human(*, comparison_ids: Iterable[int]) -> None:
    """Recompute gold, audit and combined verdicts (and counts) of these comparisons
    from their ``HumanReview`` rows, and mirror them onto their AI labels."""
    ids = sorted(set(comparison_ids))
    for chunk in iter_chunks(ids, 2000):
        raw: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"import": [], "app": []})
        for cid, source, verdict in (
            HumanReview.objects.filter(comparison_id__in=chunk)
            .order_by("comparison_id", "pk")
            .values_list("comparison_id", "source", "verdict")
        ):
            raw[cid][source].append(verdict)
        groups: dict[HumanVerdicts, list[int]] = defaultdict(list)
        for cid in chunk:
            v = raw.get(cid, {"import": [], "app": []})
            groups[human_verdicts_of(gold=v["import"], audit=v["app"])].append(cid)
        # Few distinct outcomes per chunk: one UPDATE per outcome, not per comparison.
        for hv, cids in groups.items():
            Comparison.objects.filter(pk__in=cids).update(
                gold_verdict=hv.gold,
                gold_count=hv.gold_count,
                audit_verdict=hv.audit,
                audit_count=hv.audit_count,
                human_verdict=hv.combined,
                review_count=hv.count,
            )
            AILabel.objects.filter(comparison_id__in=cids).update(
                reviewed=hv.count > 0,
                gold_verdict=hv.gold,
                audit_verdict=hv.audit,
                human_verdict=hv.combined,
            )


@dataclass(frozen=True)
class GoldLabelInput:
    """One gold (imported) human label of the comparison ``external_id`` of a set."""

    external_id: str
    verdict: str
    reviewer: str = "imported"


@transaction.atomic
def gold_labels_add(*, label_set: LabelSet, labels: Sequence[GoldLabelInput]) -> int:
    """Add gold labels to comparisons already in ``label_set``; all or nothing.

    A reviewer name may label a comparison once (the same name again is an error).
    Returns how many were added. For a new set, prefer passing ``human=`` /
    ``humans=`` on the records given to ``labelset_create_from_pairs``: those are
    stored as gold the same way.
    """
    problems = []
    for i, lab in enumerate(labels):
        if lab.verdict not in HumanVerdict.values:
            problems.append(
                f"label {i} ({lab.external_id}): verdict must be a, b, tie or both_bad, got {lab.verdict!r}"
            )
        if not lab.reviewer.strip():
            problems.append(f"label {i} ({lab.external_id}): give the reviewer a name")
    if problems:
        raise LabellingError("; ".join(problems[:5]))
    pk_of: dict[str, int] = {}
    for chunk in iter_chunks(sorted({lab.external_id for lab in labels}), 2000):
        pk_of.update(
            Comparison.objects.filter(label_set=label_set, external_id__in=chunk).values_list(
                "external_id", "pk"
            )
        )
    missing = sorted({lab.external_id for lab in labels} - pk_of.keys())
    if missing:
        raise LabellingError(f"No comparison with id {', '.join(missing[:5])} in this label set.")
    seen: set[tuple[int, str]] = set()
    existing = set(
        HumanReview.objects.filter(
            comparison_id__in=list(pk_of.values()), source=HumanReview.Source.IMPORT
        ).values_list("comparison_id", "reviewer_name")
    )
    rows = []
    for lab in labels:
        key = (pk_of[lab.external_id], lab.reviewer.strip())
        if key in seen or key in existing:
            raise LabellingError(
                f"{lab.reviewer!r} already has a gold label on {lab.external_id!r}."
            )
        seen.add(key)
        rows.append(
            HumanReview(
                comparison_id=key[0],
                label_set=label_set,
                reviewer_name=key[1],
                source=HumanReview.Source.IMPORT,
                verdict=lab.verdict,
            )
        )
    HumanReview.objects.bulk_create(rows, batch_size=BATCH)
    comparison_refresh_human(comparison_ids=pk_of.values())
    return len(rows)
