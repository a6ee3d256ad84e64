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


# Below KAPPA_MIN_N items no interval for kappa is given ("too few to say"); below
# KAPPA_ASYMPTOTIC_N the asymptotic (Wald) interval is replaced by a seeded percentile
# bootstrap. See docs/statistics.md, "Kappa intervals".
KAPPA_MIN_N = 10
KAPPA_ASYMPTOTIC_N = 50
BOOTSTRAP_REPS = 2000
BOOTSTRAP_SEED = 20231201


@dataclass(frozen=True)
class Kappa(_AsDict):
    """Cohen's kappa with a 95% interval, and how the interval was found.

    ``kappa`` is None when undefined: no items, or chance agreement of 1 (both raters
    used a single identical category, so 1 - p_e = 0). ``interval`` says where
    ``ci_low``/``ci_high`` come from:

    * ``"asymptotic"``: kappa +- 1.96 SE (statsmodels, SAS PROC FREQ), n >= KAPPA_ASYMPTOTIC_N;
    * ``"bootstrap"``: 2.5/97.5 percentiles of BOOTSTRAP_REPS seeded resamples of the
      items, KAPPA_MIN_N <= n < KAPPA_ASYMPTOTIC_N;
    * ``"observed_agreement"``: the two methods above give no width when no item
      disagrees; the interval is then the Wilson interval of the observed agreement
      mapped through kappa = (p_o - p_e) / (1 - p_e), p_e held at its observed value;
    * ``"too_few"``: n < KAPPA_MIN_N, no interval;
    * ``"undefined"``: kappa is undefined, or its variance is (one rater used a single
      category): no interval. A NaN never becomes a bound.
    """

    n: int
    kappa: float | None
    ci_low: float | None
    ci_high: float | None
    std: float | None
    interval: str = "undefined"

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _kappas(tables: np.ndarray, k: int) -> np.ndarray:
    """Cohen's kappa of each flattened k x k count table (rows of ``tables``); NaN if undefined."""
    t = tables.reshape(-1, k, k).astype(float)
    n = t.sum(axis=(1, 2))
    po = np.trace(t, axis1=1, axis2=2) / n
    pe = (t.sum(axis=2) * t.sum(axis=1)).sum(axis=1) / (n * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (po - pe) / (1 - pe)
    out[np.isclose(pe, 1.0)] = np.nan
    return out


def _bootstrap_interval(arr: np.ndarray) -> tuple[float, float] | None:
    """Seeded percentile bootstrap of kappa: resample the n items (multinomial over cells).

    Resamples where kappa is undefined (every item in one category) are dropped; if
    more than a tenth are, there is no interval.
    """
    k = arr.shape[0]
    n = int(arr.sum())
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.multinomial(n, arr.ravel() / n, size=BOOTSTRAP_REPS)
    kappas = _kappas(draws, k)
    kappas = kappas[np.isfinite(kappas)]
    if kappas.size < 0.9 * BOOTSTRAP_REPS:
        return None
    low, high = np.percentile(kappas, [2.5, 97.5])
    return max(-1.0, float(low)), min(1.0, float(high))


def _observed_agreement_interval(po_k: int, n: int, pe: float) -> tuple[float, float]:
    low, high = wilson_interval(po_k, n, confidence=CONFIDENCE_LEVEL)
    return max(-1.0, (low - pe) / (1 - pe)), min(1.0, (high - pe) / (1 - pe))


def kappa_from_table(table: np.ndarray | Sequence[Sequence[int]]) -> Kappa:
    """Cohen's kappa of a square contingency table (rows rater 1, columns rater 2).

    The interval follows the rules of :class:`Kappa`: none below KAPPA_MIN_N items, a
    seeded bootstrap below KAPPA_ASYMPTOTIC_N, the asymptotic interval above; never a
    NaN bound, never a zero-width interval from a degenerate variance.
    """
    arr = np.asarray(table, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"contingency table must be square, got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("contingency table counts must be finite and non-negative")
    n = int(arr.sum())
    if n == 0:
        return Kappa(n=0, kappa=None, ci_low=None, ci_high=None, std=None)
    row, col = arr.sum(axis=1) / n, arr.sum(axis=0) / n
    pe = float(row @ col)
    if math.isclose(pe, 1.0):
        return Kappa(n=n, kappa=None, ci_low=None, ci_high=None, std=None)
    po_k = int(round(float(np.trace(arr))))
    kappa = (po_k / n - pe) / (1 - pe)
    if n < KAPPA_MIN_N:
        return Kappa(n=n, kappa=kappa, ci_low=None, ci_high=None, std=None, interval="too_few")
    one_rater_constant = int((row > 0).sum()) == 1 or int((col > 0).sum()) == 1
    if one_rater_constant:
        # kappa is 0 and its variance is 0/0 (statsmodels gives NaN): no interval.
        return Kappa(n=n, kappa=kappa, ci_low=None, ci_high=None, std=None, interval="undefined")
    if n < KAPPA_ASYMPTOTIC_N:
        boot = _bootstrap_interval(arr)
        if boot is None:
            return Kappa(n=n, kappa=kappa, ci_low=None, ci_high=None, std=None, interval="too_few")
        low, high, std, how = boot[0], boot[1], None, "bootstrap"
    else:
        # statsmodels (with scipy and pandas) costs ~1.5 s to import: only here.
        from statsmodels.stats.inter_rater import cohens_kappa

        with np.errstate(divide="ignore", invalid="ignore"):
            res = cohens_kappa(arr)  # KappaResults: 95% interval, kappa +- 1.96 * std
        std = _finite(float(res.std_kappa))
        lo, hi = _finite(float(res.kappa_low)), _finite(float(res.kappa_upp))
        if std is None or lo is None or hi is None:
            return Kappa(
                n=n, kappa=kappa, ci_low=None, ci_high=None, std=None, interval="undefined"
            )
        # The asymptotic interval can overshoot kappa's range on small n; clip it.
        low, high, how = max(-1.0, lo), min(1.0, hi), "asymptotic"
    if high - low <= 1e-12:
        # No item disagrees (or resampling cannot see any variation): say what the
        # observed agreement allows instead of a zero-width interval.
        low, high = _observed_agreement_interval(po_k, n, pe)
        how = "observed_agreement"
    return Kappa(n=n, kappa=kappa, ci_low=low, ci_high=high, std=std, interval=how)


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
