"""Agreement among human reviewers: pairwise Cohen's kappa, Fleiss and Krippendorff."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:
    from .lazy import numpy as np

from .common import HUMAN_VERDICTS, Kappa, Rate, _AsDict, kappa_from_table, wilson_rate


@dataclass(frozen=True)
class PairwiseKappa(_AsDict):
    """Cohen's kappa between two reviewers over the items both rated."""

    reviewer_1: str
    reviewer_2: str
    percent: Rate
    kappa: Kappa


@dataclass(frozen=True)
class HumanAgreement(_AsDict):
    """Agreement among human reviewers.

    fleiss_kappa uses only items rated by exactly ``fleiss_raters_per_item`` reviewers
    (the most common count, ties broken toward more raters); the other rated items
    are counted in ``fleiss_items_excluded``. krippendorff_alpha (nominal) uses every
    item with at least two ratings, and tolerates missing ratings by construction.
    """

    n_items: int
    n_reviewers: int
    n_ratings: int
    categories: tuple[str, ...]
    pairwise: tuple[PairwiseKappa, ...]
    fleiss_kappa: float | None
    fleiss_items: int
    fleiss_raters_per_item: int | None
    fleiss_items_excluded: int
    krippendorff_alpha: float | None
    alpha_items: int


def human_agreement(reviews: Sequence[tuple[str, str, str]]) -> HumanAgreement:
    """Cohen's kappa per reviewer pair, Fleiss' kappa and Krippendorff's alpha.

    reviews: (item_id, reviewer, verdict) with verdict in a, b, tie, both_bad. A
    reviewer rating the same item twice is an error (keep one review per reviewer).
    """
    ratings: dict[str, dict[str, str]] = defaultdict(dict)
    for i, row in enumerate(reviews):
        if len(row) != 3:
            raise ValueError(f"review {i}: expected (item_id, reviewer, verdict), got {row!r}")
        item, reviewer, verdict = row
        if verdict not in HUMAN_VERDICTS:
            raise ValueError(f"review {i}: verdict must be a, b, tie or both_bad, got {verdict!r}")
        if reviewer in ratings[item]:
            raise ValueError(f"review {i}: reviewer {reviewer!r} rated item {item!r} twice")
        ratings[item][reviewer] = verdict

    cats = tuple(c for c in HUMAN_VERDICTS if any(c in r.values() for r in ratings.values()))
    index = {c: j for j, c in enumerate(cats)}
    reviewers = sorted({rv for r in ratings.values() for rv in r})
    items = list(ratings)

    pairwise = []
    for r1, r2 in combinations(reviewers, 2):
        table = np.zeros((len(cats), len(cats)), dtype=np.int64)
        for r in ratings.values():
            if r1 in r and r2 in r:
                table[index[r[r1]], index[r[r2]]] += 1
        n = int(table.sum())
        if n == 0:
            continue
        pairwise.append(
            PairwiseKappa(
                reviewer_1=r1,
                reviewer_2=r2,
                percent=wilson_rate(int(np.trace(table)), n),
                kappa=kappa_from_table(table),
            )
        )

    # Fleiss: items x categories counts over items with the modal number of raters.
    counts_per_item = Counter(len(r) for r in ratings.values() if len(r) >= 2)
    fk: float | None = None
    fleiss_items = 0
    modal: int | None = None
    if counts_per_item:
        modal = max(counts_per_item, key=lambda m: (counts_per_item[m], m))
        rows = [r for r in ratings.values() if len(r) == modal]
        agg = np.zeros((len(rows), len(cats)), dtype=np.int64)
        for i, r in enumerate(rows):
            for v in r.values():
                agg[i, index[v]] += 1
        fleiss_items = len(rows)
        p_j = agg.sum(axis=0) / agg.sum()
        if not math.isclose(float((p_j**2).sum()), 1.0):
            from statsmodels.stats.inter_rater import fleiss_kappa  # heavy: only when computed

            with np.errstate(divide="ignore", invalid="ignore"):
                value = float(fleiss_kappa(agg, method="fleiss"))
            fk = value if math.isfinite(value) else None

    # Krippendorff: reviewers x items, NaN where a reviewer did not rate the item.
    alpha: float | None = None
    alpha_items = sum(1 for r in ratings.values() if len(r) >= 2)
    # alpha = 1 - D_o / D_e is undefined when the pairable ratings (items with >= 2)
    # use a single category (D_e = 0): a category seen only on singly-rated items
    # does not count. Guarded here, and any non-finite result is None, never NaN.
    pairable = {v for r in ratings.values() if len(r) >= 2 for v in r.values()}
    if alpha_items and len(pairable) >= 2:
        import krippendorff

        rev_index = {rv: j for j, rv in enumerate(reviewers)}
        data = np.full((len(reviewers), len(items)), np.nan)
        for col, item in enumerate(items):
            for rv, v in ratings[item].items():
                data[rev_index[rv], col] = index[v]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
        alpha = value if math.isfinite(value) else None

    return HumanAgreement(
        n_items=len(items),
        n_reviewers=len(reviewers),
        n_ratings=sum(len(r) for r in ratings.values()),
        categories=cats,
        pairwise=tuple(pairwise),
        fleiss_kappa=fk,
        fleiss_items=fleiss_items,
        fleiss_raters_per_item=modal,
        fleiss_items_excluded=sum(counts_per_item.values()) - fleiss_items,
        krippendorff_alpha=alpha,
        alpha_items=alpha_items,
    )
