"""Deriving one canonical label from a judge's two orderings of a pair."""

from __future__ import annotations

from dataclasses import dataclass

from .common import VERDICTS, _AsDict, _check_probability


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
