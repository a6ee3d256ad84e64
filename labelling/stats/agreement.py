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
    HUMAN_VERDICTS,
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

AI_ROWS: tuple[str, ...] = ("a", "b", "tie", "none")


@dataclass(frozen=True)
class Agreement(_AsDict):
    """Judge-vs-human agreement.

    Pairs without a human label and pairs a human marked both_bad are left out of
    ``percent`` and ``kappa`` (their counts are reported; the judge has no "both
    unacceptable" answer). A judge verdict that is missing — in the debiased label
    too: the agree rule with an order missing, mean_prob with a probability missing —
    counts as a disagreement in ``percent`` (as in LLMBar's accuracy), is left out of
    ``kappa``, which uses the 3x3 ``confusion`` (rows judge, columns human, order a, b,
    tie), and is counted in ``ai_missing``.

    ``table`` is the whole picture: rows judge a, b, tie, none (``table_rows``),
    columns human a, b, tie, both_bad (``table_columns``), every pair with a human label.
    """

    source: str
    percent: Rate
    kappa: Kappa
    confusion: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...]
    ai_missing: int
    excluded_no_human: int
    excluded_both_bad: int
    table: tuple[tuple[int, ...], ...] = ()
    table_rows: tuple[str, ...] = AI_ROWS
    table_columns: tuple[str, ...] = HUMAN_VERDICTS

    @property
    def n_human(self) -> int:
        """Pairs with a human label of any kind (both_bad included)."""
        return sum(sum(r) for r in self.table)


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
        table=tuple(tuple(int(x) for x in row) for row in m[:, :4]),
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
        out = np.where(ab == ba, ab, _TIE).astype(np.int8)
        # derive_label makes these "tie" for training; for agreement they are no verdict.
        out[(ab == _NONE) | (ba == _NONE)] = _NONE
        return out
    p = (_probs((q.p_a_ab for q in pairs), n) + _probs((q.p_a_ba for q in pairs), n)) / 2
    out = np.full(n, _TIE, dtype=np.int8)
    out[p > threshold] = _A
    out[p < 1 - threshold] = _B
    out[np.isnan(p)] = _NONE  # a missing probability: no verdict, not a tie
    return out


def agreement(
    pairs: Sequence[PairJudgement],
    source: str = "debiased",
    *,
    rule: str = "agree",
    threshold: float = 0.5,
) -> Agreement:
    """Agreement of the judge with the human label.

    source="ab" or "ba" uses one presentation order; "debiased" uses
    :func:`derive_label` with ``rule`` and ``threshold``, except that a label resting
    on a missing verdict or probability is *no verdict* here (derive_label's "tie").
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


@dataclass(frozen=True)
class RaterAgreement(_AsDict):
    """Agreement of one kind of human rater with another (auditors against gold).

    Every category is a category here, both_bad included: ``table`` is 4x4 over
    ``labels`` (rows the first rater, columns the second); ``percent`` is its trace
    over its sum and ``kappa`` Cohen's kappa of it.
    """

    percent: Rate
    kappa: Kappa
    table: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...] = HUMAN_VERDICTS


def rater_agreement_from_counts(counts: Mapping[tuple[str, str], int]) -> RaterAgreement:
    """From ``{(rater_1_verdict, rater_2_verdict): count}``; verdicts a, b, tie, both_bad."""
    index = {v: i for i, v in enumerate(HUMAN_VERDICTS)}
    m = np.zeros((4, 4), dtype=np.int64)
    for key, count in counts.items():
        if not isinstance(key, tuple) or len(key) != 2 or any(v not in index for v in key):
            raise ValueError(f"keys must be pairs of a, b, tie or both_bad, got {key!r}")
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise ValueError(f"count for {key!r} must be a non-negative integer, got {count!r}")
        m[index[key[0]], index[key[1]]] += int(count)
    # kappa over the categories either rater used (an unused row and column add nothing).
    used = [i for i in range(4) if m[i, :].sum() or m[:, i].sum()]
    sub = m[np.ix_(used, used)] if used else np.zeros((0, 0), dtype=np.int64)
    return RaterAgreement(
        percent=wilson_rate(int(np.trace(m)), int(m.sum())),
        kappa=kappa_from_table(sub) if used else kappa_from_table([[0]]),
        table=tuple(tuple(int(x) for x in row) for row in m),
    )
