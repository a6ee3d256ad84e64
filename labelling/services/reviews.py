"""Human review: the blinded order a reviewer sees, and recording a verdict."""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction

from ..models import Comparison, HumanReview, QueueItem, ReviewQueue
from .common import CHOICES, LabellingError
from .humans import comparison_refresh_human


def shown_order_for(*, seed: int, reviewer_id: int, comparison_id: int) -> str:
    """Which canonical answer a reviewer sees on the left: "ab" (a left) or "ba".

    A hash of queue seed, reviewer and comparison: random across reviewers and
    items, yet the same every time this reviewer opens this item.
    """
    digest = hashlib.sha256(f"{seed}:{reviewer_id}:{comparison_id}".encode()).digest()
    return "ab" if digest[0] % 2 == 0 else "ba"


def canonical_verdict(choice: str, shown_order: str) -> str:
    """Map a slot choice (first = left) back to canonical a/b."""
    if choice not in CHOICES:
        raise LabellingError(f"Choose one of {', '.join(CHOICES)}.", field="choice")
    if shown_order not in ("ab", "ba"):
        raise LabellingError(f"Unknown presentation order {shown_order!r}.")
    if choice in ("tie", "both_bad"):
        return choice
    first, second = ("a", "b") if shown_order == "ab" else ("b", "a")
    return first if choice == "first" else second


@transaction.atomic
def review_submit(
    *,
    queue: ReviewQueue,
    comparison: Comparison,
    reviewer,
    choice: str,
    flag_harmful: bool = False,
    flag_principle_misapplied: bool = False,
    flag_ai_wrong: bool = False,
    note: str = "",
    seconds_spent: float | None = None,
) -> tuple[HumanReview, bool]:
    """Record a reviewer's verdict; returns (review, created).

    A second submit by the same reviewer on the same comparison returns the first
    review unchanged (double clicks, retried requests). The order the reviewer saw
    is recomputed here from the queue seed, never taken from the form.
    """
    if (
        comparison.label_set_id != queue.label_set_id
        or not QueueItem.objects.filter(queue=queue, comparison=comparison).exists()
    ):
        raise LabellingError("This comparison is not in this queue.")
    existing = HumanReview.objects.filter(comparison=comparison, reviewer=reviewer).first()
    if existing is not None:
        return existing, False
    order = shown_order_for(seed=queue.seed, reviewer_id=reviewer.pk, comparison_id=comparison.pk)
    verdict = canonical_verdict(choice, order)
    # Serialise writers of this comparison so the consensus below sees every review.
    Comparison.objects.select_for_update().filter(pk=comparison.pk).first()
    try:
        with transaction.atomic():
            review = HumanReview.objects.create(
                comparison=comparison,
                label_set_id=comparison.label_set_id,
                reviewer=reviewer,
                reviewer_name=reviewer.get_username(),
                source=HumanReview.Source.APP,
                queue=queue,
                verdict=verdict,
                shown_order=order,
                flag_harmful=flag_harmful,
                flag_principle_misapplied=flag_principle_misapplied,
                flag_ai_wrong=flag_ai_wrong,
                note=note.strip()[:5000],
                seconds_spent=None
                if seconds_spent is None
                else max(0.0, min(seconds_spent, 86400.0)),
            )
    except IntegrityError:
        return HumanReview.objects.get(comparison=comparison, reviewer=reviewer), False
    # An in-app review is an audit: it moves audit_verdict and the combined consensus,
    # never the gold label the set was imported with.
    comparison_refresh_human(comparison_ids=[comparison.pk])
    if flag_harmful:
        Comparison.objects.filter(pk=comparison.pk).update(flagged_harmful=True)
    return review, True
