"""Statistics for auditing AI preference labels.

Plain Python and numpy: no Django. Every function takes plain dataclasses (or
pre-aggregated counts, so a view can ``GROUP BY`` in SQL) and returns frozen
dataclasses with ``as_dict()`` for JSON. Every rate carries its ``n``.

Conventions (see docs/statistics.md for formulas and sources):

* Verdicts are canonical: ``"a"`` means response_a won, whichever slot it was shown
  in. Order AB shows a in the first slot; order BA shows b first, and its verdict
  has already been mapped back to canonical a/b. ``None`` means the judge gave no
  usable verdict (parse failure, refusal).
* Position bias follows Zheng et al. 2023 (MT-Bench paper, Table 2): every pair
  lands in exactly one of consistent / biased toward first / biased toward second /
  error, so the four rates sum to 1.
* "Positional agreement" follows LLMBar (Zeng et al. 2023, ``evaluate.py``:
  ``equal += output_True == output_False``), which also counts two missing verdicts
  as agreeing; it is reported separately so the published numbers can be checked.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import krippendorff
import numpy as np
from scipy.stats import binomtest, norm
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

Verdict = Literal["a", "b", "tie"]
HumanVerdict = Literal["a", "b", "tie", "both_bad"]
Source = Literal["ab", "ba", "debiased"]
Rule = Literal["agree", "mean_prob"]

VERDICTS: tuple[str, ...] = ("a", "b", "tie")
HUMAN_VERDICTS: tuple[str, ...] = ("a", "b", "tie", "both_bad")
SLICE_KEYS: tuple[str, ...] = ("principle", "category", "judge")
UNSET_SLICE = "(none)"
CONFIDENCE_LEVEL = 0.95

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
    """k successes out of n with a Wilson 95% interval; rate and interval are None when n == 0."""

    k: int
    n: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


def wilson_rate(k: int, n: int) -> Rate:
    """k/n with the Wilson score interval (statsmodels ``proportion_confint(method="wilson")``)."""
    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Rate(k=0, n=0, rate=None, ci_low=None, ci_high=None)
    low, high = proportion_confint(k, n, alpha=1 - CONFIDENCE_LEVEL, method="wilson")
    return Rate(k=k, n=n, rate=k / n, ci_low=float(low), ci_high=float(high))


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
    res = cohens_kappa(arr)  # KappaResults: 95% interval, kappa +- 1.96 * std
    return Kappa(
        n=n,
        kappa=float(res.kappa),
        # The asymptotic interval can overshoot kappa's range on small n; clip it.
        ci_low=max(-1.0, float(res.kappa_low)),
        ci_high=min(1.0, float(res.kappa_upp)),
        std=float(res.std_kappa),
    )


# ------------------------------------------------------------------------ derive_label


@dataclass(frozen=True)
class DerivedLabel(_AsDict):
    """The label that a two-order judgement yields.

    consistent: whether both orders gave the same canonical verdict (None if either
    order gave no verdict). preferred_slot: for inconsistent pairs, the slot the judge
    leaned to ("first" or "second"); None otherwise. p_debiased: mean of the two
    P(a), None unless both exist. final: the label used downstream.
    """

    consistent: bool | None
    preferred_slot: str | None
    p_debiased: float | None
    final: str
    rule: str


_SLOT_AB = {"a": "first", "b": "second", "tie": "tie"}
_SLOT_BA = {"a": "second", "b": "first", "tie": "tie"}


def derive_label(
    verdict_ab: str | None,
    verdict_ba: str | None,
    p_a_ab: float | None = None,
    p_a_ba: float | None = None,
    rule: str = "agree",
    threshold: float = 0.5,
) -> DerivedLabel:
    """Combine the two presentation orders into one label.

    rule="agree" (Zheng et al.'s conservative swap rule): the verdict of both orders
    when they agree, otherwise "tie"; a missing verdict in either order gives "tie".

    rule="mean_prob": p = (p_a_ab + p_a_ba) / 2, the position-debiased P(a). With
    threshold t in [0.5, 1): "a" if p > t, "b" if p < 1 - t, otherwise "tie" (so with
    t = 0.5 only p == 0.5 exactly is a tie). Missing probabilities are undecidable: "tie".
    """
    for name, value in (("verdict_ab", verdict_ab), ("verdict_ba", verdict_ba)):
        if value is not None and value not in VERDICTS:
            raise ValueError(f"{name} must be one of a, b, tie or None, got {value!r}")
    _check_probability("p_a_ab", p_a_ab)
    _check_probability("p_a_ba", p_a_ba)
    if rule not in ("agree", "mean_prob"):
        raise ValueError(f"rule must be 'agree' or 'mean_prob', got {rule!r}")
    if isinstance(threshold, bool) or not 0.5 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0.5, 1), got {threshold!r}")

    if verdict_ab is None or verdict_ba is None:
        consistent: bool | None = None
        preferred_slot = None
    else:
        consistent = verdict_ab == verdict_ba
        preferred_slot = None
        if not consistent:
            # An inconsistent pair never names both slots: (a, b) is first/first,
            # (b, a) second/second, and a one-sided tie names a single slot.
            slots = {_SLOT_AB[verdict_ab], _SLOT_BA[verdict_ba]} - {"tie"}
            preferred_slot = slots.pop()
    p = None if p_a_ab is None or p_a_ba is None else (p_a_ab + p_a_ba) / 2

    if rule == "agree":
        final = verdict_ab if consistent else "tie"
    elif p is None:
        final = "tie"
    elif p > threshold:
        final = "a"
    elif p < 1 - threshold:
        final = "b"
    else:
        final = "tie"
    return DerivedLabel(
        consistent=consistent, preferred_slot=preferred_slot, p_debiased=p, final=final, rule=rule
    )


# ----------------------------------------------------------------------- encoding


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


# ----------------------------------------------------------------------- position bias


@dataclass(frozen=True)
class BinomialTest(_AsDict):
    """Two-sided exact binomial test of k first-slot picks among n against p = 0.5."""

    k: int
    n: int
    p_value: float | None


@dataclass(frozen=True)
class PositionBias(_AsDict):
    """Position-bias summary of a set of two-order judgements.

    consistency, biased_first, biased_second and error partition all n pairs (Zheng
    et al. 2023, Table 2). positional_agreement is LLMBar's "Agr." (both orders give
    the same verdict, two missing verdicts included). mean_p_first is the mean
    probability given to whatever sat in the first slot, over every order that
    carries a probability (n_prob of them); 0.5 means no positional lean.
    """

    n: int
    consistency: Rate
    biased_first: Rate
    biased_second: Rate
    error: Rate
    positional_agreement: Rate
    consistent_ties: int
    one_sided_ties: int
    mean_p_first: float | None
    n_prob: int
    first_slot_test: BinomialTest
    table: tuple[tuple[int, ...], ...] = field(default=())
    table_labels: tuple[str, ...] = ("a", "b", "tie", "none")


def _position_bias(
    m: np.ndarray, mean_p_first: float | None = None, n_prob: int = 0
) -> PositionBias:
    n = int(m.sum())
    decided = m[:3, :3]
    consistent = int(np.trace(decided))
    # Slot semantics: in AB "a" is first; in BA "b" is first. Inconsistent cells:
    first = int(m[_A, _B] + m[_A, _TIE] + m[_TIE, _B])
    second = int(m[_B, _A] + m[_B, _TIE] + m[_TIE, _A])
    error = int(m[3, :].sum() + m[:3, 3].sum())
    assert consistent + first + second + error == n
    agreement = consistent + int(m[3, 3])
    one_sided = int(m[_A, _TIE] + m[_TIE, _B] + m[_B, _TIE] + m[_TIE, _A])
    k_test = first
    n_test = first + second
    p_value = float(binomtest(k_test, n_test, 0.5).pvalue) if n_test else None
    return PositionBias(
        n=n,
        consistency=wilson_rate(consistent, n),
        biased_first=wilson_rate(first, n),
        biased_second=wilson_rate(second, n),
        error=wilson_rate(error, n),
        positional_agreement=wilson_rate(agreement, n),
        consistent_ties=int(m[_TIE, _TIE]),
        one_sided_ties=one_sided,
        mean_p_first=mean_p_first,
        n_prob=n_prob,
        first_slot_test=BinomialTest(k=k_test, n=n_test, p_value=p_value),
        table=tuple(tuple(int(x) for x in row) for row in m),
    )


def position_bias(pairs: Sequence[PairJudgement]) -> PositionBias:
    """Position-bias rates, counts and Wilson intervals for judged pairs."""
    n = len(pairs)
    p_ab = _probs((p.p_a_ab for p in pairs), n)
    p_ba = _probs((p.p_a_ba for p in pairs), n)
    # P(first slot): AB shows a first, BA shows b first.
    p_first = np.concatenate([p_ab[~np.isnan(p_ab)], 1.0 - p_ba[~np.isnan(p_ba)]])
    mean_p_first = float(p_first.mean()) if p_first.size else None
    return _position_bias(_verdict_table(pairs), mean_p_first, int(p_first.size))


def position_bias_from_counts(
    table: Mapping[tuple[str | None, str | None], int],
    *,
    mean_p_first: float | None = None,
    n_prob: int = 0,
) -> PositionBias:
    """Same as :func:`position_bias` from ``{(verdict_ab, verdict_ba): count}``.

    Meant for ``GROUP BY verdict_ab, verdict_ba`` in SQL; pass the SQL ``AVG`` of the
    first-slot probability and its count if you have them.
    """
    if mean_p_first is not None:
        _check_probability("mean_p_first", mean_p_first)
    return _position_bias(_table_from_counts(table), mean_p_first, int(n_prob))


# --------------------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Agreement(_AsDict):
    """Judge-vs-human agreement.

    Pairs without a human label and pairs a human marked both_bad are left out (their
    counts are reported). A judge verdict that is missing counts as a disagreement in
    ``percent`` (as in LLMBar's accuracy) and is left out of ``kappa``, which uses the
    3x3 ``confusion`` (rows judge, columns human, order a, b, tie).
    """

    source: str
    percent: Rate
    kappa: Kappa
    confusion: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...]
    ai_missing: int
    excluded_no_human: int
    excluded_both_bad: int


def _agreement(source: str, m: np.ndarray) -> Agreement:
    """m: 4x5 counts, rows AI (a, b, tie, None), columns human (a, b, tie, both_bad, None)."""
    confusion = m[:3, :3]
    ai_missing = int(m[3, :3].sum())
    n = int(confusion.sum()) + ai_missing
    return Agreement(
        source=source,
        percent=wilson_rate(int(np.trace(confusion)), n),
        kappa=kappa_from_table(confusion),
        confusion=tuple(tuple(int(x) for x in row) for row in confusion),
        labels=VERDICTS,
        ai_missing=ai_missing,
        excluded_no_human=int(m[:, 4].sum()),
        excluded_both_bad=int(m[:, 3].sum()),
    )


def _ai_codes(
    pairs: Sequence[PairJudgement], source: str, rule: str, threshold: float
) -> np.ndarray:
    n = len(pairs)
    if source == "ab":
        return _codes((p.verdict_ab for p in pairs), _CODE, n)
    if source == "ba":
        return _codes((p.verdict_ba for p in pairs), _CODE, n)
    if source != "debiased":
        raise ValueError(f"source must be 'ab', 'ba' or 'debiased', got {source!r}")
    if rule not in ("agree", "mean_prob"):
        raise ValueError(f"rule must be 'agree' or 'mean_prob', got {rule!r}")
    if not 0.5 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0.5, 1), got {threshold!r}")
    if rule == "agree":
        ab = _codes((p.verdict_ab for p in pairs), _CODE, n)
        ba = _codes((p.verdict_ba for p in pairs), _CODE, n)
        return np.where((ab == ba) & (ab != _NONE), ab, _TIE).astype(np.int8)
    p = (_probs((q.p_a_ab for q in pairs), n) + _probs((q.p_a_ba for q in pairs), n)) / 2
    out = np.full(n, _TIE, dtype=np.int8)
    out[p > threshold] = _A
    out[p < 1 - threshold] = _B
    return out  # NaN compares False both ways: undecidable pairs stay "tie".


def agreement(
    pairs: Sequence[PairJudgement],
    source: str = "debiased",
    *,
    rule: str = "agree",
    threshold: float = 0.5,
) -> Agreement:
    """Agreement of the judge with the human label.

    source="ab" or "ba" uses one presentation order; "debiased" uses
    :func:`derive_label` with ``rule`` and ``threshold``.
    """
    ai = _ai_codes(pairs, source, rule, threshold).astype(np.int64)
    human = _codes((p.human for p in pairs), _HUMAN_CODE, len(pairs)).astype(np.int64)
    m = np.bincount(ai * 5 + human, minlength=20).reshape(4, 5)
    return _agreement(source, m)


def agreement_from_counts(
    counts: Mapping[tuple[str | None, str | None], int], source: str = "debiased"
) -> Agreement:
    """Same as :func:`agreement` from ``{(ai_verdict, human_verdict): count}``.

    Keys may use None and "both_bad" exactly as stored, so a view can pass the rows
    of ``GROUP BY ai_verdict, human_verdict`` straight through.
    """
    if source not in ("ab", "ba", "debiased"):
        raise ValueError(f"source must be 'ab', 'ba' or 'debiased', got {source!r}")
    m = np.zeros((4, 5), dtype=np.int64)
    for key, count in counts.items():
        if not isinstance(key, tuple) or len(key) != 2:
            raise ValueError(f"keys must be (ai_verdict, human_verdict) tuples, got {key!r}")
        ai, human = key
        if ai not in _CODE:
            raise ValueError(f"ai verdict must be a, b, tie or None, got key {key!r}")
        if human not in _HUMAN_CODE:
            raise ValueError(f"human verdict must be a, b, tie, both_bad or None, got key {key!r}")
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise ValueError(f"count for {key!r} must be a non-negative integer, got {count!r}")
        m[_CODE[ai], _HUMAN_CODE[human]] += int(count)
    return _agreement(source, m)


@dataclass(frozen=True)
class OrderAveragedAccuracy(_AsDict):
    """LLMBar's "Acc.": mean of the accuracy in order AB and in order BA."""

    ab: Rate
    ba: Rate
    accuracy: float | None


def order_averaged_accuracy(pairs: Sequence[PairJudgement]) -> OrderAveragedAccuracy:
    """Accuracy against the human label averaged over both orders (LLMBar ``correct_average``)."""
    ab = agreement(pairs, "ab").percent
    ba = agreement(pairs, "ba").percent
    # Both orders cover the same pairs, so n is equal and this is the mean of the two.
    acc = None if ab.n == 0 else (ab.k + ba.k) / (ab.n + ba.n)
    return OrderAveragedAccuracy(ab=ab, ba=ba, accuracy=acc)


# ---------------------------------------------------------------------- human agreement


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
            fk = float(fleiss_kappa(agg, method="fleiss"))

    # Krippendorff: reviewers x items, NaN where a reviewer did not rate the item.
    alpha: float | None = None
    alpha_items = sum(1 for r in ratings.values() if len(r) >= 2)
    if alpha_items and len(cats) >= 2:
        rev_index = {rv: j for j, rv in enumerate(reviewers)}
        data = np.full((len(reviewers), len(items)), np.nan)
        for col, item in enumerate(items):
            for rv, v in ratings[item].items():
                data[rev_index[rv], col] = index[v]
        alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))

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


# ------------------------------------------------------------------------- calibration


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


# ------------------------------------------------------------------------- sample size


def sample_size_for_halfwidth(
    halfwidth: float,
    p: float = 0.5,
    confidence: float = 0.95,
    population: int | None = None,
) -> int:
    """Reviews needed so a proportion's normal-approximation CI has the given half-width.

    n0 = z^2 p (1 - p) / h^2 (z the two-sided normal quantile); with a finite
    population N, Cochran's correction n = n0 / (1 + (n0 - 1) / N). Rounded up, and
    never more than N. p = 0.5 is the worst case.
    """
    if isinstance(halfwidth, bool) or not 0.0 < halfwidth < 1.0:
        raise ValueError(f"halfwidth must be in (0, 1), got {halfwidth!r}")
    if isinstance(p, bool) or not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    if isinstance(confidence, bool) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if population is not None and (
        isinstance(population, bool) or not isinstance(population, int) or population < 1
    ):
        raise ValueError(f"population must be a positive integer or None, got {population!r}")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    n0 = z * z * p * (1 - p) / (halfwidth * halfwidth)
    if population is not None:
        n0 = n0 / (1 + (n0 - 1) / population)
    # Guard against 384.00000000001 style float noise before rounding up.
    n = math.ceil(round(n0, 9))
    return min(n, population) if population is not None else n


# --------------------------------------------------------------------------- slicing


def slice_by(pairs: Iterable[PairJudgement], key: str) -> dict[str, list[PairJudgement]]:
    """Group pairs by principle, category or judge; unset values go under ``UNSET_SLICE``."""
    if key not in SLICE_KEYS:
        raise ValueError(f"key must be one of {', '.join(SLICE_KEYS)}, got {key!r}")
    out: dict[str, list[PairJudgement]] = defaultdict(list)
    for pair in pairs:
        value = getattr(pair, key)
        out[UNSET_SLICE if value is None else value].append(pair)
    return dict(out)
