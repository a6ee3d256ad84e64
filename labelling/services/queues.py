"""Review queues: stratified sampling of comparisons and (re)building a queue."""

from __future__ import annotations

import random
from collections import defaultdict

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from .. import stats
from ..models import AILabel, Comparison, LabelSet, QueueItem, ReviewQueue
from .common import BATCH, LabellingError


def _largest_remainder(sizes: dict[str, int], k: int) -> dict[str, int]:
    total = sum(sizes.values())
    quotas = {s: k * n / total for s, n in sizes.items()}
    alloc = {s: min(int(q), sizes[s]) for s, q in quotas.items()}
    rest = k - sum(alloc.values())
    order = sorted(sizes, key=lambda s: (-(quotas[s] - int(quotas[s])), s))
    while rest > 0:
        progressed = False
        for s in order:
            if rest and alloc[s] < sizes[s]:
                alloc[s] += 1
                rest -= 1
                progressed = True
        if not progressed:
            break
    return alloc


def queue_sample(*, label_set: LabelSet, strategy: str, sample_size: int, seed: int) -> list[int]:
    """The comparison ids a queue holds, in review order; the same for the same seed and data."""
    rng = random.Random(seed)
    comparisons = Comparison.objects.filter(label_set=label_set).order_by("pk")
    k = sample_size
    S = ReviewQueue.Strategy
    if strategy == S.UNIFORM:
        ids = list(comparisons.values_list("pk", flat=True))
        return rng.sample(ids, min(k, len(ids)))
    if strategy in (S.BY_PRINCIPLE, S.BY_CATEGORY):
        key = "principle_key" if strategy == S.BY_PRINCIPLE else "category"
        strata: dict[str, list[int]] = defaultdict(list)
        for pk, value in comparisons.values_list("pk", key):
            strata[value or stats.UNSET_SLICE].append(pk)
        total = sum(len(v) for v in strata.values())
        alloc = _largest_remainder({s: len(v) for s, v in strata.items()}, min(k, total))
        chosen: list[int] = []
        for s in sorted(strata):
            chosen.extend(rng.sample(strata[s], alloc[s]))
        rng.shuffle(chosen)
        return chosen
    if strategy == S.INCONSISTENT_FIRST:
        ids = list(comparisons.values_list("pk", flat=True))
        bad = set(
            AILabel.objects.filter(label_set=label_set, consistent=False).values_list(
                "comparison_id", flat=True
            )
        )
        first = [i for i in ids if i in bad]
        rest = [i for i in ids if i not in bad]
        rng.shuffle(first)
        rng.shuffle(rest)
        return (first + rest)[:k]
    if strategy == S.LOW_MARGIN_FIRST:
        ids = list(comparisons.values_list("pk", flat=True))
        conf = dict(
            AILabel.objects.filter(label_set=label_set, confidence__isnull=False)
            .values("comparison_id")
            .annotate(c=Min("confidence"))
            .values_list("comparison_id", "c")
        )
        tiebreak = {i: rng.random() for i in ids}
        ids.sort(key=lambda i: (i not in conf, conf.get(i, 0.0), tiebreak[i]))
        return ids[:k]
    raise LabellingError(f"Unknown strategy {strategy!r}.")


@transaction.atomic
def queue_create(
    *, label_set: LabelSet, user, strategy: str, sample_size: int, seed: int | None = None
) -> ReviewQueue:
    if strategy not in ReviewQueue.Strategy.values:
        raise LabellingError(f"Unknown strategy {strategy!r}.", field="strategy")
    if sample_size < 1:
        raise LabellingError("The sample size must be at least 1.", field="sample_size")
    if label_set.comparison_count == 0:
        raise LabellingError("This label set has no comparisons to review.")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    queue = ReviewQueue.objects.create(
        label_set=label_set, strategy=strategy, sample_size=sample_size, seed=seed, created_by=user
    )
    return queue_rebuild(queue=queue)


@transaction.atomic
def queue_rebuild(*, queue: ReviewQueue) -> ReviewQueue:
    """Rebuild the items from the queue's seed; reviews already given stay with their comparisons."""
    ids = queue_sample(
        label_set=queue.label_set,
        strategy=queue.strategy,
        sample_size=queue.sample_size,
        seed=queue.seed,
    )
    QueueItem.objects.filter(queue=queue).delete()
    QueueItem.objects.bulk_create(
        [QueueItem(queue=queue, position=i + 1, comparison_id=cid) for i, cid in enumerate(ids)],
        batch_size=BATCH,
    )
    queue.built_at = timezone.now()
    queue.save(update_fields=["built_at"])
    return queue
