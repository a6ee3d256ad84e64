"""One calibration definition: exact bin edges, [lo, hi) bins, the same answer in Python and SQL."""

from __future__ import annotations

import pytest

from labelling import selectors, services, stats
from labelling.formats import LabelRecord

# (p_debiased, human): p is given in both orders, so the debiased p is p itself.
EDGE_CASES = [
    (0.85, "a"),  # confidence exactly 0.85: the 0.85–0.90 bin, not 0.80–0.85
    (0.15, "b"),  # 1 - 0.15 = 0.85 as well
    (0.8, "b"),  # exactly on the 0.80 edge, disagrees
    (0.84999, "a"),  # just under 0.85
    (1.0, "a"),  # confidence 1.0: the last bin, which is closed
    (0.0, "a"),  # p = 0 is confidence 1.0 too (leans b, human a: disagrees)
    (0.55, "a"),  # the 0.55 edge
    (0.5, "a"),  # no side: left out of calibration altogether
    (0.9, "tie"),  # a tie from the human: left out
]


def test_the_edges_are_exact_decimals():
    edges = stats.calibration_edges()
    assert edges == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
    assert stats.calibration_edges(2) == (0.5, 0.75, 1.0)
    with pytest.raises(ValueError, match="bins"):
        stats.calibration_edges(0)


def test_a_bin_holds_its_lower_edge_and_the_last_one_holds_one():
    # 0.0 is below every edge (a confidence never is): clipped into the first bin.
    assert list(stats.calibration_bin_of([0.0, 0.5, 0.5499, 0.55, 0.85, 0.9999, 1.0])) == [
        0,
        0,
        0,
        1,
        7,
        9,
        9,
    ]


def test_confidence_exactly_on_an_edge_lands_in_the_bin_that_starts_there():
    pairs = [
        stats.PairJudgement("a" if p > 0.5 else "b", "a" if p > 0.5 else "b", p, p, human)
        for p, human in EDGE_CASES
    ]
    bins = {(b.lo, b.hi): b for b in stats.calibration(pairs)}
    assert (bins[(0.85, 0.9)].n, bins[(0.85, 0.9)].k) == (2, 2)  # 0.85 and 0.15
    assert (bins[(0.8, 0.85)].n, bins[(0.8, 0.85)].k) == (2, 1)  # 0.8 disagrees, 0.84999 agrees
    assert (bins[(0.95, 1.0)].n, bins[(0.95, 1.0)].k) == (2, 1)  # 1.0 agrees, 0.0 does not
    assert (bins[(0.55, 0.6)].n, bins[(0.55, 0.6)].k) == (1, 1)
    assert sum(b.n for b in bins.values()) == 7  # 0.5 and the tie are left out


@pytest.mark.django_db
def test_the_sql_path_gives_the_same_bins_as_the_python_path(team, author, auditor):
    records = [
        LabelRecord(
            id=f"e{i}",
            prompt=f"Edge prompt {i}?",
            response_a=f"Answer A {i}",
            response_b=f"Answer B {i}",
            judge="judge",
            verdict_ab="a" if p > 0.5 else "b",
            verdict_ba="a" if p > 0.5 else "b",
            p_a_ab=p,
            p_a_ba=p,
            human=human,
        )
        for i, (p, human) in enumerate(EDGE_CASES)
    ]
    label_set = services.labelset_create_from_pairs(
        team=team, user=author, name="Edges", records=records
    )
    from_sql = selectors.labelset_statistics(label_set).calibration
    from_python = stats.calibration([r.to_pair_judgement() for r in records])
    assert [(b.lo, b.hi, b.n, b.k) for b in from_sql] == [
        (b.lo, b.hi, b.n, b.k) for b in from_python
    ]
    for got, expected in zip(from_sql, from_python, strict=True):
        assert got.ci == expected.ci
        assert got.mean_confidence == pytest.approx(expected.mean_confidence)
    assert [b.n for b in from_sql] == [0, 1, 0, 0, 0, 0, 2, 2, 0, 2]


def test_counts_with_more_agreeing_than_rated_are_refused():
    with pytest.raises(ValueError, match="bin 3"):
        stats.calibration_from_counts({3: (2, 3, 1.8)})
