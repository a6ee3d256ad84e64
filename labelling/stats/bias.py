"""Position bias (Zheng et al. 2023): consistent / first / second / error, with a binomial test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:
    from .lazy import numpy as np

from .common import (
    _A,
    _B,
    _TIE,
    PairJudgement,
    Rate,
    _AsDict,
    _check_probability,
    _probs,
    _table_from_counts,
    _verdict_table,
    wilson_rate,
)


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
    p_value = None
    if n_test:
        from scipy.stats import binomtest  # scipy only where the test is computed

        p_value = float(binomtest(k_test, n_test, 0.5).pvalue)
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
