"""Agreement of AI labels with humans: per order, debiased, and order-averaged accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:
    from .lazy import numpy as np

from .common import (
    _A,
    _B,
    _CODE,
    _HUMAN_CODE,
    _NONE,
    _TIE,
    VERDICTS,
    Kappa,
    PairJudgement,
    Rate,
    _AsDict,
    _codes,
    _probs,
    kappa_from_table,
    wilson_rate,
)


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
