"""Calibration of the judge's probabilities against human verdicts.

One definition of the bins serves both paths: :func:`calibration` (pairs in memory)
and the SQL ``GROUP BY`` in ``labelling.selectors``, which both take their edges from
:func:`calibration_edges` and build their result with :func:`calibration_from_counts`.
A bin is [lo, hi); the last one also holds confidence 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:
    from .lazy import numpy as np

from .common import _A, _B, _HUMAN_CODE, PairJudgement, _AsDict, _codes, _probs, wilson_rate

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class CalibrationBin(_AsDict):
    """Pairs whose debiased confidence max(p, 1-p) falls in [lo, hi) ([lo, hi] for the last bin)."""

    lo: float
    hi: float
    n: int
    mean_confidence: float | None
    human_agreement_rate: float | None
    ci: tuple[float, float]  # Wilson 95%; (0, 1) for an empty bin
    k: int = 0


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")


def calibration_edges(bins: int = CALIBRATION_BINS) -> tuple[float, ...]:
    """The ``bins + 1`` edges that split confidence [0.5, 1] evenly.

    Edge i is (bins + i) / (2 bins): one correctly rounded division, so 0.85 is the
    float 0.85 (``np.linspace(0.5, 1, 11)`` gives 0.8500000000000001, which put a
    confidence of exactly 0.85 in the 0.80–0.85 bin).
    """
    _check_bins(bins)
    return tuple((bins + i) / (2 * bins) for i in range(bins + 1))


def calibration_bin_of(
    confidence: Sequence[float] | np.ndarray, bins: int = CALIBRATION_BINS
) -> np.ndarray:
    """The bin index of each confidence: the last edge it reaches, clipped to [0, bins - 1].

    So a bin is [lo, hi), 1.0 falls in the last bin, and anything below 0.5 (which a
    confidence max(p, 1 - p) never is) in the first. The SQL path in
    ``labelling.selectors`` writes this same rule as ``CASE WHEN confidence >= edge``
    over the same :func:`calibration_edges`.
    """
    edges = np.asarray(calibration_edges(bins))
    idx = np.searchsorted(edges, np.asarray(confidence, dtype=float), side="right") - 1
    return np.clip(idx, 0, bins - 1)


def calibration_from_counts(
    counts: Mapping[int, tuple[int, int, float]], bins: int = CALIBRATION_BINS
) -> list[CalibrationBin]:
    """The reliability table from ``{bin index: (n, agreeing, sum of confidence)}``.

    Bins missing from ``counts`` are empty. Meant for the rows of a ``GROUP BY`` bin.
    """
    edges = calibration_edges(bins)
    out = []
    for b in range(bins):
        n, k, conf_sum = counts.get(b, (0, 0, 0.0))
        n, k = int(n), int(k)
        if not 0 <= k <= n:
            raise ValueError(f"bin {b}: need 0 <= agreeing <= n, got {k} of {n}")
        rate = wilson_rate(k, n)
        out.append(
            CalibrationBin(
                lo=edges[b],
                hi=edges[b + 1],
                n=n,
                mean_confidence=float(conf_sum) / n if n else None,
                human_agreement_rate=rate.rate,
                ci=(rate.ci_low, rate.ci_high),
                k=k,
            )
        )
    return out


def calibration(
    pairs: Sequence[PairJudgement], bins: int = CALIBRATION_BINS
) -> list[CalibrationBin]:
    """Reliability table of the debiased probability against the human label.

    Uses pairs with both probabilities and a human verdict of a or b; p_debiased ==
    0.5 picks no side and is left out. The judge "agrees" when the side it leans to
    (a if p > 0.5) is the human's. Bins split [0.5, 1] evenly (:func:`calibration_edges`).
    """
    _check_bins(bins)
    n = len(pairs)
    p = (_probs((q.p_a_ab for q in pairs), n) + _probs((q.p_a_ba for q in pairs), n)) / 2
    human = _codes((q.human for q in pairs), _HUMAN_CODE, n)
    keep = ~np.isnan(p) & (p != 0.5) & ((human == _A) | (human == _B))
    p, human = p[keep], human[keep]
    conf = np.maximum(p, 1 - p)
    agree = np.where(p > 0.5, _A, _B) == human
    idx = calibration_bin_of(conf, bins)
    n_bin = np.bincount(idx, minlength=bins)
    k_bin = np.bincount(idx, weights=agree, minlength=bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=bins)
    return calibration_from_counts(
        {b: (int(n_bin[b]), int(round(k_bin[b])), float(conf_sum[b])) for b in range(bins)},
        bins,
    )
