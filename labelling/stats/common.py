"""Inputs, verdict codes and the small result types every statistic shares."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
else:
    from .lazy import numpy as np

from .intervals import CONFIDENCE_LEVEL, wilson_interval

Verdict = Literal["a", "b", "tie"]
HumanVerdict = Literal["a", "b", "tie", "both_bad"]
Source = Literal["ab", "ba", "debiased"]
Rule = Literal["agree", "mean_prob"]

VERDICTS: tuple[str, ...] = ("a", "b", "tie")
HUMAN_VERDICTS: tuple[str, ...] = ("a", "b", "tie", "both_bad")
SLICE_KEYS: tuple[str, ...] = ("principle", "category", "judge")
UNSET_SLICE = "(none)"

# Integer codes used for vectorised counting. Index 3 is "no verdict".
_CODE = {"a": 0, "b": 1, "tie": 2, None: 3}
_HUMAN_CODE = {"a": 0, "b": 1, "tie": 2, "both_bad": 3, None: 4}
_A, _B, _TIE, _NONE = 0, 1, 2, 3


class _AsDict:
    """Mixin: ``as_dict()`` that yields JSON-ready builtins."""

    def as_dict(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))  # type: ignore[call-overload]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class PairJudgement:
    """One AI-judged pair, judged in both presentation orders, plus an optional human label."""

    verdict_ab: str | None
    verdict_ba: str | None
    p_a_ab: float | None = None
    p_a_ba: float | None = None
    human: str | None = None
    principle: str | None = None
    category: str | None = None
    judge: str | None = None

    def __post_init__(self) -> None:
        for name in ("verdict_ab", "verdict_ba"):
            value = getattr(self, name)
            if value is not None and value not in VERDICTS:
                raise ValueError(f"{name} must be one of a, b, tie or None, got {value!r}")
        for name in ("p_a_ab", "p_a_ba"):
            _check_probability(name, getattr(self, name))
        if self.human is not None and self.human not in HUMAN_VERDICTS:
            raise ValueError(
                f"human must be one of a, b, tie, both_bad or None, got {self.human!r}"
            )


def _check_probability(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number in [0, 1] or None, got {value!r}")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


# ----------------------------------------------------------------- small result types


@dataclass(frozen=True)
class Rate(_AsDict):
    """k successes out of n with a Wilson 95% interval.

    When n == 0 the rate is None (k/n is undefined) and the interval is the whole
    [0, 1], as :func:`~labelling.stats.intervals.wilson_interval` says.
    """

    k: int
    n: int
    rate: float | None
    ci_low: float
    ci_high: float


def wilson_rate(k: int, n: int) -> Rate:
    """k/n with the project's one Wilson score interval (:mod:`labelling.stats.intervals`)."""
    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    low, high = wilson_interval(k, n, confidence=CONFIDENCE_LEVEL)
    return Rate(k=k, n=n, rate=k / n if n else None, ci_low=low, ci_high=high)


@dataclass(frozen=True)
class Kappa(_AsDict):
    """Cohen's kappa with its asymptotic 95% interval (statsmodels ``cohens_kappa``), clipped to [-1, 1].

    ``kappa`` is None when undefined: no items, or chance agreement of 1 (both raters
    used a single identical category, so 1 - p_e = 0).
    """

    n: int
    kappa: float | None
    ci_low: float | None
    ci_high: float | None
    std: float | None


def kappa_from_table(table: np.ndarray | Sequence[Sequence[int]]) -> Kappa:
    """Cohen's kappa of a square contingency table (rows rater 1, columns rater 2)."""
    arr = np.asarray(table, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"contingency table must be square, got shape {arr.shape}")
    n = int(arr.sum())
    if n == 0:
        return Kappa(n=0, kappa=None, ci_low=None, ci_high=None, std=None)
    row, col = arr.sum(axis=1) / n, arr.sum(axis=0) / n
    if math.isclose(float(row @ col), 1.0):
        return Kappa(n=n, kappa=None, ci_low=None, ci_high=None, std=None)
    # statsmodels (with scipy and pandas) costs ~1.5 s to import: only where a kappa is computed.
    from statsmodels.stats.inter_rater import cohens_kappa

    res = cohens_kappa(arr)  # KappaResults: 95% interval, kappa +- 1.96 * std
    return Kappa(
        n=n,
        kappa=float(res.kappa),
        # The asymptotic interval can overshoot kappa's range on small n; clip it.
        ci_low=max(-1.0, float(res.kappa_low)),
        ci_high=min(1.0, float(res.kappa_upp)),
        std=float(res.std_kappa),
    )


def _codes(values: Iterable[str | None], codebook: Mapping[str | None, int], n: int) -> np.ndarray:
    return np.fromiter((codebook[v] for v in values), dtype=np.int8, count=n)


def _probs(values: Iterable[float | None], n: int) -> np.ndarray:
    return np.fromiter((np.nan if v is None else v for v in values), dtype=float, count=n)


def _verdict_table(pairs: Sequence[PairJudgement]) -> np.ndarray:
    """4x4 counts: rows verdict_ab, columns verdict_ba, order a, b, tie, None."""
    n = len(pairs)
    ab = _codes((p.verdict_ab for p in pairs), _CODE, n).astype(np.int64)
    ba = _codes((p.verdict_ba for p in pairs), _CODE, n).astype(np.int64)
    return np.bincount(ab * 4 + ba, minlength=16).reshape(4, 4)


def _table_from_counts(table: Mapping[tuple[str | None, str | None], int]) -> np.ndarray:
    out = np.zeros((4, 4), dtype=np.int64)
    for key, count in table.items():
        if not isinstance(key, tuple) or len(key) != 2:
            raise ValueError(f"keys must be (verdict_ab, verdict_ba) tuples, got {key!r}")
        ab, ba = key
        if ab not in _CODE or ba not in _CODE:
            raise ValueError(f"verdicts must be a, b, tie or None, got key {key!r}")
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise ValueError(f"count for {key!r} must be a non-negative integer, got {count!r}")
        out[_CODE[ab], _CODE[ba]] += int(count)
    return out


def slice_by(pairs: Iterable[PairJudgement], key: str) -> dict[str, list[PairJudgement]]:
    """Group pairs by principle, category or judge; unset values go under ``UNSET_SLICE``."""
    if key not in SLICE_KEYS:
        raise ValueError(f"key must be one of {', '.join(SLICE_KEYS)}, got {key!r}")
    out: dict[str, list[PairJudgement]] = defaultdict(list)
    for pair in pairs:
        value = getattr(pair, key)
        out[UNSET_SLICE if value is None else value].append(pair)
    return dict(out)
