"""Calibration of the judge's probabilities against human verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .common import _A, _B, _HUMAN_CODE, PairJudgement, _AsDict, _codes, _probs, wilson_rate


@dataclass(frozen=True)
class CalibrationBin(_AsDict):
    """Pairs whose debiased confidence max(p, 1-p) falls in [lo, hi) ([lo, hi] for the last bin)."""

    lo: float
    hi: float
    n: int
    mean_confidence: float | None
    human_agreement_rate: float | None
    ci: tuple[float, float] | None
    k: int = 0


def calibration(pairs: Sequence[PairJudgement], bins: int = 10) -> list[CalibrationBin]:
    """Reliability table of the debiased probability against the human label.

    Uses pairs with both probabilities and a human verdict of a or b; p_debiased ==
    0.5 picks no side and is left out. The judge "agrees" when the side it leans to
    (a if p > 0.5) is the human's. Bins split [0.5, 1] evenly.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    n = len(pairs)
    p = (_probs((q.p_a_ab for q in pairs), n) + _probs((q.p_a_ba for q in pairs), n)) / 2
    human = _codes((q.human for q in pairs), _HUMAN_CODE, n)
    keep = ~np.isnan(p) & (p != 0.5) & ((human == _A) | (human == _B))
    p, human = p[keep], human[keep]
    conf = np.maximum(p, 1 - p)
    agree = np.where(p > 0.5, _A, _B) == human
    edges = np.linspace(0.5, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    n_bin = np.bincount(idx, minlength=bins)
    k_bin = np.bincount(idx, weights=agree, minlength=bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=bins)
    out = []
    for b in range(bins):
        nb, kb = int(n_bin[b]), int(round(k_bin[b]))
        rate = wilson_rate(kb, nb)
        out.append(
            CalibrationBin(
                lo=float(edges[b]),
                hi=float(edges[b + 1]),
                n=nb,
                mean_confidence=float(conf_sum[b] / nb) if nb else None,
                human_agreement_rate=rate.rate,
                ci=(rate.ci_low, rate.ci_high) if nb else None,  # type: ignore[arg-type]
                k=kb,
            )
        )
    return out
