"""Hand-computed checks of labelling.stats; the arithmetic is written next to each assert."""

from __future__ import annotations

import json
import math
import time

import pytest

from labelling.stats import (
    UNSET_SLICE,
    PairJudgement,
    agreement,
    agreement_from_counts,
    calibration,
    derive_label,
    human_agreement,
    kappa_from_table,
    order_averaged_accuracy,
    position_bias,
    position_bias_from_counts,
    sample_size_for_halfwidth,
    slice_by,
    wilson_rate,
)

Z95 = 1.959963984540054


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    """Wilson (1927) score interval, written out."""
    p = k / n
    centre = p + Z95**2 / (2 * n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    denom = 1 + Z95**2 / n
    return (centre - half) / denom, (centre + half) / denom


def P(ab, ba, p_ab=None, p_ba=None, human=None, **kw) -> PairJudgement:
    return PairJudgement(ab, ba, p_ab, p_ba, human, **kw)


# ----------------------------------------------------------------------- PairJudgement


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"verdict_ab": "A"}, "verdict_ab"),
        ({"verdict_ba": "first"}, "verdict_ba"),
        ({"p_a_ab": 1.5}, "p_a_ab"),
        ({"p_a_ba": float("nan")}, "p_a_ba"),
        ({"p_a_ab": True}, "p_a_ab"),
        ({"human": "neither"}, "human"),
    ],
)
def test_pair_judgement_refuses_bad_values_naming_the_field(kwargs, message):
    base = {"verdict_ab": "a", "verdict_ba": "a"}
    with pytest.raises(ValueError, match=message):
        PairJudgement(**{**base, **kwargs})


# ------------------------------------------------------------------------ derive_label


def test_agree_rule_keeps_consistent_verdicts_and_ties_the_rest():
    same = derive_label("a", "a")
    assert (same.consistent, same.preferred_slot, same.final) == (True, None, "a")
    # (a, b): AB picked slot 1 (a), BA picked slot 1 (b) -> first-slot preference, tie.
    flip = derive_label("a", "b")
    assert (flip.consistent, flip.preferred_slot, flip.final) == (False, "first", "tie")
    # (b, a): second slot both times.
    assert derive_label("b", "a").preferred_slot == "second"
    # One-sided ties lean to the slot of the non-tie verdict:
    # (tie, b): BA's b sat first; (tie, a): BA's a sat second; (b, tie): AB's b sat second.
    assert derive_label("tie", "b").preferred_slot == "first"
    assert derive_label("tie", "a").preferred_slot == "second"
    assert derive_label("b", "tie").preferred_slot == "second"
    missing = derive_label(None, "a")
    assert (missing.consistent, missing.preferred_slot, missing.final) == (None, None, "tie")


def test_mean_prob_rule_thresholds_the_debiased_probability():
    # (0.9 + 0.5) / 2 = 0.7 > 0.5 -> a
    d = derive_label("a", "tie", 0.9, 0.5, rule="mean_prob")
    assert d.p_debiased == pytest.approx(0.7) and d.final == "a"
    # (0.7 + 0.3) / 2 = 0.5 exactly -> tie, even though the verdicts say a and b
    assert derive_label("a", "b", 0.7, 0.3, rule="mean_prob").final == "tie"
    # (0.2 + 0.4) / 2 = 0.3 < 1 - 0.5 -> b
    assert derive_label("b", "b", 0.2, 0.4, rule="mean_prob").final == "b"
    # threshold 0.75: 0.7 is neither > 0.75 nor < 0.25 -> tie
    assert derive_label("a", "a", 0.9, 0.5, rule="mean_prob", threshold=0.75).final == "tie"
    # no probabilities -> undecidable -> tie
    nop = derive_label("a", "a", rule="mean_prob")
    assert nop.p_debiased is None and nop.final == "tie"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rule": "vote"}, "rule"),
        ({"threshold": 0.4}, "threshold"),
        ({"threshold": 1.0}, "threshold"),
        ({"verdict_ab": "x"}, "verdict_ab"),
        ({"p_a_ba": -0.1}, "p_a_ba"),
    ],
)
def test_derive_label_refuses_bad_arguments(kwargs, message):
    args = {"verdict_ab": "a", "verdict_ba": "a", **kwargs}
    with pytest.raises(ValueError, match=message):
        derive_label(**args)


# ----------------------------------------------------------------------- position bias

# 13 pairs:
#   consistent: (a,a) x3, (b,b) x1, (tie,tie) x1                  -> 5
#   first slot: (a,b) x2, (a,tie) x1, (tie,b) x1                  -> 4
#   second slot: (b,a) x1, (tie,a) x1                             -> 2
#   error: (None,a) x1, (None,None) x1                            -> 2
BIAS_PAIRS = (
    [P("a", "a")] * 3
    + [P("b", "b"), P("tie", "tie")]
    + [P("a", "b")] * 2
    + [P("a", "tie"), P("tie", "b"), P("b", "a"), P("tie", "a"), P(None, "a"), P(None, None)]
)


def test_position_bias_partitions_pairs_as_in_zheng_table_2():
    pb = position_bias(BIAS_PAIRS)
    assert pb.n == 13
    assert (pb.consistency.k, pb.biased_first.k, pb.biased_second.k, pb.error.k) == (5, 4, 2, 2)
    assert pb.consistency.rate == pytest.approx(5 / 13)
    assert pb.biased_first.rate == pytest.approx(4 / 13)
    assert pb.biased_second.rate == pytest.approx(2 / 13)
    assert pb.error.rate == pytest.approx(2 / 13)
    # LLMBar "Agr." counts (None, None) as equal too: (5 + 1) / 13
    assert pb.positional_agreement.k == 6 and pb.positional_agreement.n == 13
    assert pb.consistent_ties == 1
    assert pb.one_sided_ties == 3  # (a,tie), (tie,b), (tie,a)
    low, high = wilson_by_hand(5, 13)
    assert pb.consistency.ci_low == pytest.approx(low) and pb.consistency.ci_high == pytest.approx(
        high
    )
    # Binomial test of 4 first-slot picks among 6: P(X >= 4) = (15 + 6 + 1) / 64,
    # two-sided (symmetric at p = 0.5) = 44 / 64 = 0.6875.
    assert (pb.first_slot_test.k, pb.first_slot_test.n) == (4, 6)
    assert pb.first_slot_test.p_value == pytest.approx(44 / 64)
    assert pb.mean_p_first is None and pb.n_prob == 0


def test_mean_p_first_reads_the_first_slot_of_each_order():
    # AB: P(first) = p_a_ab = 0.8; BA: first slot holds b, P(first) = 1 - 0.6 = 0.4.
    # Second pair: only AB has a probability, 0.3. Mean of (0.8, 0.4, 0.3) = 0.5.
    pb = position_bias([P("a", "a", 0.8, 0.6), P("b", "b", 0.3, None)])
    assert pb.n_prob == 3
    assert pb.mean_p_first == pytest.approx(0.5)


def test_position_bias_from_counts_matches_the_per_pair_version():
    counts = {
        ("a", "a"): 3,
        ("b", "b"): 1,
        ("tie", "tie"): 1,
        ("a", "b"): 2,
        ("a", "tie"): 1,
        ("tie", "b"): 1,
        ("b", "a"): 1,
        ("tie", "a"): 1,
        (None, "a"): 1,
        (None, None): 1,
    }
    assert position_bias_from_counts(counts) == position_bias(BIAS_PAIRS)


@pytest.mark.parametrize(
    "counts, message",
    [
        ({("a", "x"): 1}, "verdicts"),
        ({("a",): 1}, "tuples"),
        ({("a", "a"): -1}, "non-negative"),
        ({("a", "a"): 1.5}, "non-negative"),
    ],
)
def test_position_bias_from_counts_refuses_bad_tables(counts, message):
    with pytest.raises(ValueError, match=message):
        position_bias_from_counts(counts)


def test_an_empty_set_has_no_rates_and_no_test():
    pb = position_bias([])
    assert pb.n == 0 and pb.consistency.rate is None and pb.first_slot_test.p_value is None
    json.dumps(pb.as_dict())


# --------------------------------------------------------------------------- agreement

# Order AB against the human label:
#   (a,a) x4, (b,b) x3, (a,b) x1, (b,a) x1, (tie,tie) x1    -> 3x3 confusion, 8 agree of 10
#   (None, a) x1                                              -> judge missing, a miss
#   (a, both_bad) x1, (a, None) x1                            -> excluded
AGREE_PAIRS = (
    [P("a", "a", human="a")] * 4
    + [P("b", "b", human="b")] * 3
    + [P("a", "b", human="b"), P("b", "a", human="a"), P("tie", "tie", human="tie")]
    + [P(None, "a", human="a"), P("a", "a", human="both_bad"), P("a", "a", human=None)]
)


def test_agreement_counts_missing_verdicts_as_misses_and_drops_both_bad():
    ag = agreement(AGREE_PAIRS, "ab")
    assert ag.confusion == ((4, 1, 0), (1, 3, 0), (0, 0, 1))
    assert (ag.ai_missing, ag.excluded_both_bad, ag.excluded_no_human) == (1, 1, 1)
    assert (ag.percent.k, ag.percent.n) == (8, 11)
    # kappa on the 3x3: p_o = 8/10; margins rows (5,4,1), columns (5,4,1):
    # p_e = (5*5 + 4*4 + 1*1) / 100 = 0.42; kappa = (0.8 - 0.42) / 0.58
    assert ag.kappa.n == 10
    assert ag.kappa.kappa == pytest.approx(0.38 / 0.58)
    # n = 10 < KAPPA_ASYMPTOTIC_N: a seeded bootstrap interval around kappa, not Wald.
    assert ag.kappa.interval == "bootstrap"
    assert ag.kappa.ci_low < ag.kappa.kappa < ag.kappa.ci_high


def test_kappa_uses_the_asymptotic_interval_from_fifty_items():
    ag = agreement(AGREE_PAIRS[:10] * 5, "ab")
    assert (ag.kappa.n, ag.kappa.interval) == (50, "asymptotic")
    assert ag.kappa.ci_low == pytest.approx(ag.kappa.kappa - Z95 * ag.kappa.std)
    assert ag.kappa.ci_high == pytest.approx(min(1.0, ag.kappa.kappa + Z95 * ag.kappa.std))


def test_debiased_agreement_uses_the_agree_rule():
    # Debiased (agree rule): (a,b)->tie, (b,a)->tie; (None,a) has no verdict (a miss,
    # out of kappa), not a tie. vs human: a:4 agree, b:3 agree, tie vs b, tie vs a,
    # tie vs tie agree; the missing one against a.
    ag = agreement(AGREE_PAIRS, "debiased")
    assert ag.ai_missing == 1
    assert ag.confusion == ((4, 0, 0), (0, 3, 0), (1, 1, 1))
    assert (ag.percent.k, ag.percent.n) == (8, 11)


def test_debiased_agreement_with_mean_prob_rule():
    pairs = [
        P("a", "b", 0.9, 0.6, human="a"),  # p = 0.75 -> a, agrees
        P("a", "b", 0.4, 0.2, human="a"),  # p = 0.30 -> b, disagrees
        P("a", "a", None, None, human="tie"),  # no probability -> no verdict, a miss
    ]
    ag = agreement(pairs, "debiased", rule="mean_prob")
    assert ag.confusion == ((1, 0, 0), (1, 0, 0), (0, 0, 0))
    assert (ag.percent.k, ag.percent.n, ag.ai_missing) == (1, 3, 1)


def test_agreement_from_counts_matches_the_per_pair_version():
    counts = {
        ("a", "a"): 4,
        ("b", "b"): 3,
        ("a", "b"): 1,
        ("b", "a"): 1,
        ("tie", "tie"): 1,
        (None, "a"): 1,
        ("a", "both_bad"): 1,
        ("a", None): 1,
    }
    assert agreement_from_counts(counts, "ab") == agreement(AGREE_PAIRS, "ab")
    with pytest.raises(ValueError, match="human verdict"):
        agreement_from_counts({("a", "maybe"): 1})
    with pytest.raises(ValueError, match="source"):
        agreement(AGREE_PAIRS, "both")


def test_order_averaged_accuracy_is_llmbars_correct_average():
    # AB correct: 8 of 11; BA: (a,a)x4 ok, (b,b)x3 ok, (a,b)->b ok, (b,a)->a ok, tie ok,
    # (None,a)->a ok = 11 of 11. Average (8 + 11) / 22.
    acc = order_averaged_accuracy(AGREE_PAIRS)
    assert (acc.ab.k, acc.ba.k) == (8, 11)
    assert acc.accuracy == pytest.approx(19 / 22)


def test_kappa_is_undefined_when_both_raters_use_one_category():
    assert kappa_from_table([[7, 0], [0, 0]]).kappa is None
    assert kappa_from_table([[0, 0], [0, 0]]).n == 0
    with pytest.raises(ValueError, match="square"):
        kappa_from_table([[1, 2, 3]])


def test_wilson_rate_refuses_impossible_counts():
    with pytest.raises(ValueError, match="k <= n"):
        wilson_rate(5, 4)


# --------------------------------------------------------------------- human agreement


def test_cohens_kappa_between_two_reviewers_by_hand():
    # x: a a b tie ; y: a b b tie -> agree on 3 of 4.
    # margins x (a2, b1, tie1), y (a1, b2, tie1): p_e = (2*1 + 1*2 + 1*1) / 16 = 5/16
    # kappa = (3/4 - 5/16) / (1 - 5/16) = 0.4375 / 0.6875
    reviews = [
        ("1", "x", "a"),
        ("1", "y", "a"),
        ("2", "x", "a"),
        ("2", "y", "b"),
        ("3", "x", "b"),
        ("3", "y", "b"),
        ("4", "x", "tie"),
        ("4", "y", "tie"),
    ]
    ha = human_agreement(reviews)
    (pair,) = ha.pairwise
    assert (pair.reviewer_1, pair.reviewer_2, pair.kappa.n) == ("x", "y", 4)
    assert pair.percent.k == 3
    assert pair.kappa.kappa == pytest.approx(0.4375 / 0.6875)


def test_fleiss_kappa_and_krippendorff_alpha_by_hand():
    # Three raters, four items: aaa, aab, bbb, abb.
    # Fleiss: P_i = (sum n_ij^2 - 3) / 6 = 1, 1/3, 1, 1/3 -> P_bar = 2/3;
    # p_a = 6/12 = p_b -> P_e = 0.5; kappa = (2/3 - 1/2) / (1/2) = 1/3.
    # Krippendorff (nominal): coincidences o_aa = 3 + 1 = 4, o_bb = 3 + 1 = 4,
    # o_ab = o_ba = 1 + 1 = 2; n = 12, n_a = n_b = 6.
    # D_o = 4/12, D_e = 2 * 6 * 6 / (12 * 11) = 6/11 -> alpha = 1 - (1/3)/(6/11) = 7/18.
    items = {"1": "aaa", "2": "aab", "3": "bbb", "4": "abb"}
    reviews = [(i, f"r{j}", v) for i, vs in items.items() for j, v in enumerate(vs)]
    ha = human_agreement(reviews)
    assert ha.fleiss_kappa == pytest.approx(1 / 3)
    assert (ha.fleiss_items, ha.fleiss_raters_per_item, ha.fleiss_items_excluded) == (4, 3, 0)
    assert ha.krippendorff_alpha == pytest.approx(7 / 18)
    assert (ha.n_items, ha.n_reviewers, ha.n_ratings) == (4, 3, 12)


def test_fleiss_uses_only_items_with_the_modal_rater_count():
    # Items 1-4 have 3 raters (as above); item 5 has only 2, item 6 just 1.
    items = {"1": "aaa", "2": "aab", "3": "bbb", "4": "abb"}
    reviews = [(i, f"r{j}", v) for i, vs in items.items() for j, v in enumerate(vs)]
    reviews += [("5", "r0", "a"), ("5", "r1", "b"), ("6", "r2", "a")]
    ha = human_agreement(reviews)
    assert ha.fleiss_kappa == pytest.approx(1 / 3)  # unchanged: item 5 is left out
    assert (ha.fleiss_items, ha.fleiss_items_excluded) == (4, 1)
    assert ha.alpha_items == 5  # alpha uses item 5 too (item 6 is unpairable)
    assert ha.krippendorff_alpha != pytest.approx(7 / 18)


def test_human_agreement_refuses_double_reviews_and_bad_verdicts():
    with pytest.raises(ValueError, match="twice"):
        human_agreement([("1", "x", "a"), ("1", "x", "b")])
    with pytest.raises(ValueError, match="verdict"):
        human_agreement([("1", "x", "A")])


# ------------------------------------------------------------------------- calibration


def test_calibration_bins_debiased_confidence_against_humans():
    pairs = [
        P("a", "a", 0.9, 0.9, human="a"),  # p 0.9, conf 0.9, leans a, human a: agree
        P("b", "b", 0.2, 0.0, human="b"),  # p 0.1, conf 0.9, leans b, human b: agree
        P("a", "a", 0.6, 0.6, human="b"),  # p 0.6, conf 0.6, leans a, human b: disagree
        P("a", "a", 1.0, 1.0, human="a"),  # conf 1.0 lands in the last (closed) bin
        P("a", "b", 0.5, 0.5, human="a"),  # p 0.5: no side, left out
        P("a", "a", 0.9, 0.9, human="tie"),  # tie: left out
        P("a", "a", None, 0.9, human="a"),  # one probability: left out
    ]
    b0, b1 = calibration(pairs, bins=2)  # edges 0.5, 0.75, 1.0
    assert (b0.lo, b0.hi, b0.n, b0.k) == (0.5, 0.75, 1, 0)
    assert b0.mean_confidence == pytest.approx(0.6) and b0.human_agreement_rate == 0.0
    assert (b1.n, b1.k) == (3, 3)
    assert b1.mean_confidence == pytest.approx((0.9 + 0.9 + 1.0) / 3)
    assert b1.ci == pytest.approx(wilson_by_hand(3, 3))
    empty = calibration([], bins=3)
    # An empty bin has no rate and the whole [0, 1] as its interval (see stats.intervals).
    assert [b.n for b in empty] == [0, 0, 0]
    assert empty[0].human_agreement_rate is None and empty[0].ci == (0.0, 1.0)
    with pytest.raises(ValueError, match="bins"):
        calibration(pairs, bins=0)


# ------------------------------------------------------------------------- sample size


def test_sample_size_matches_cochran_and_krejcie_morgan():
    # n0 = 1.959964^2 * 0.25 / 0.05^2 = 384.15 -> 385
    assert sample_size_for_halfwidth(0.05) == 385
    # 0.03: 3.841459 * 0.25 / 0.0009 = 1067.07 -> 1068
    assert sample_size_for_halfwidth(0.03) == 1068
    # FPC, N = 1000: 384.15 / (1 + 383.15 / 1000) = 277.7 -> 278 (Krejcie & Morgan 1970 table)
    assert sample_size_for_halfwidth(0.05, population=1000) == 278
    # p = 0.1 at 99%: 2.575829^2 * 0.09 / 0.02^2 = 1492.9 -> 1493
    assert sample_size_for_halfwidth(0.02, p=0.1, confidence=0.99) == 1493
    # Never more than the population.
    assert sample_size_for_halfwidth(0.001, population=50) == 50


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"halfwidth": 0}, "halfwidth"),
        ({"halfwidth": 0.05, "p": 1.0}, "p must"),
        ({"halfwidth": 0.05, "confidence": 95}, "confidence"),
        ({"halfwidth": 0.05, "population": 0}, "population"),
    ],
)
def test_sample_size_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_size_for_halfwidth(**kwargs)


# ---------------------------------------------------------------------------- slicing


def test_slice_by_groups_and_names_the_unset_group():
    pairs = [P("a", "a", principle="harm"), P("b", "b", principle="harm"), P("a", "a")]
    groups = slice_by(pairs, "principle")
    assert {k: len(v) for k, v in groups.items()} == {"harm": 2, UNSET_SLICE: 1}
    with pytest.raises(ValueError, match="key"):
        slice_by(pairs, "prompt")


def test_results_serialise_to_json():
    blob = json.dumps(
        {
            "bias": position_bias(BIAS_PAIRS).as_dict(),
            "agreement": agreement(AGREE_PAIRS).as_dict(),
            "calibration": [b.as_dict() for b in calibration(AGREE_PAIRS)],
        }
    )
    assert json.loads(blob)["bias"]["consistency"]["n"] == 13


# ------------------------------------------------------------------------ performance


@pytest.mark.slow
def test_a_million_pairs_take_seconds_not_minutes():
    # 10 distinct judgements repeated 100,000 times; the counts scale exactly.
    base = [
        P("a", "a", 0.9, 0.8, human="a"),
        P("a", "b", 0.6, 0.4, human="b"),
        P("b", "b", 0.1, 0.2, human="b"),
        P("tie", "tie", 0.5, 0.5, human="tie"),
        P("b", "a", 0.3, 0.7, human="a"),
        P("a", "tie", 0.7, 0.5, human="both_bad"),
        P(None, "a", None, 0.9, human="a"),
        P("a", "a", 0.95, 0.9, human=None),
        P("b", "b", 0.05, 0.1, human="a"),
        P("tie", "b", 0.5, 0.3, human="b"),
    ]
    pairs = base * 100_000
    start = time.perf_counter()
    pb = position_bias(pairs)
    ag = agreement(pairs, "debiased", rule="mean_prob")
    cal = calibration(pairs)
    elapsed = time.perf_counter() - start
    assert pb.n == 1_000_000
    # consistent: (a,a), (b,b), (tie,tie), (a,a), (b,b) -> 5 of 10
    assert pb.consistency.k == 500_000
    assert sum(b.n for b in cal) > 0
    assert ag.excluded_both_bad == 100_000
    assert elapsed < 15, f"took {elapsed:.1f}s"
