"""Fixtures the labelling view tests share (imported by each test module that needs them)."""

from __future__ import annotations

import pytest

from labelling import services
from labelling.formats import LabelRecord
from labelling.models import ReviewQueue
from labelling.stats import PairJudgement

# Eight hand-made pairs; every figure below was worked out by hand.
#  #  ab    ba    p_ab  p_ba  human  principle  class
#  1  a     a     .9    .8    a      harm       consistent
#  2  b     b     .2    .1    b      harm       consistent
#  3  a     b     .7    .4    a      harm       biased first
#  4  a     b     .6    .3    b      honesty    biased first
#  5  b     a     .4    .6    a      honesty    biased second (p = .5 exactly)
#  6  tie   tie   .5    .5    tie    honesty    consistent tie
#  7  None  a     -     -     a      (none)     error
#  8  a     a     .8    .9    -      (none)     consistent, no human
HAND_ROWS = [
    ("h1", "a", "a", 0.9, 0.8, "a", "harm"),
    ("h2", "b", "b", 0.2, 0.1, "b", "harm"),
    ("h3", "a", "b", 0.7, 0.4, "a", "harm"),
    ("h4", "a", "b", 0.6, 0.3, "b", "honesty"),
    ("h5", "b", "a", 0.4, 0.6, "a", "honesty"),
    ("h6", "tie", "tie", 0.5, 0.5, "tie", "honesty"),
    ("h7", None, "a", None, None, "a", None),
    ("h8", "a", "a", 0.8, 0.9, None, None),
]
JUDGE = "judge-7b"


def hand_records() -> list[LabelRecord]:
    return [
        LabelRecord(
            id=rid,
            prompt=f"Prompt {rid}: how should I answer?",
            response_a=f"Answer A of {rid}",
            response_b=f"Answer B of {rid}",
            judge=JUDGE,
            verdict_ab=ab,
            verdict_ba=ba,
            p_a_ab=pab,
            p_a_ba=pba,
            human=human,
            principle=principle,
            metadata={"category": "safety" if principle == "harm" else "truth"}
            if principle
            else {},
        )
        for rid, ab, ba, pab, pba, human, principle in HAND_ROWS
    ]


def hand_pairs() -> list[PairJudgement]:
    return [r.to_pair_judgement(category=r.metadata.get("category")) for r in hand_records()]


@pytest.fixture
def hand_set(team, author):
    return services.labelset_create_from_pairs(
        team=team, user=author, name="Hand-made", records=hand_records()
    )


@pytest.fixture
def review_set(team, author):
    """Twelve pairs with probabilities, no human labels: material for review queues."""
    records = [
        LabelRecord(
            id=f"r{i}",
            prompt=f"Question number {i}?",
            response_a=f"Left-or-right answer alpha {i}",
            response_b=f"Left-or-right answer beta {i}",
            judge=JUDGE,
            verdict_ab="a" if i % 3 else "b",
            verdict_ba="a" if i % 4 else "b",
            p_a_ab=round(0.55 + 0.03 * i, 4),
            p_a_ba=round(0.35 + 0.04 * i, 4),
            principle="harm" if i % 2 else "honesty",
            metadata={"harmful": True} if i == 5 else {},
        )
        for i in range(1, 13)
    ]
    return services.labelset_create_from_pairs(
        team=team, user=author, name="To review", records=records
    )


@pytest.fixture
def queue(review_set, auditor):
    return services.queue_create(
        label_set=review_set,
        user=auditor,
        strategy=ReviewQueue.Strategy.UNIFORM,
        sample_size=12,
        seed=7,
    )


def ids(html: str, element_id: str) -> str:
    """The text of the first cell with class "v" inside the element with this id."""
    import re

    m = re.search(rf'id="{re.escape(element_id)}".*?class="num v">(.*?)</td>', html, re.S)
    assert m, f"no {element_id} on the page"
    return m.group(1).strip()


def assert_same_bias(got, expected) -> None:
    """Equal position-bias results; the SQL-summed mean P(first) may differ in the last bit."""
    import dataclasses

    assert got.mean_p_first == pytest.approx(expected.mean_p_first)
    assert dataclasses.replace(got, mean_p_first=None) == dataclasses.replace(
        expected, mean_p_first=None
    )


def assert_same(got, expected) -> None:
    """Equal stats results, NaN included (a degenerate kappa table has a NaN std)."""
    import json

    assert json.dumps(got.as_dict(), sort_keys=True) == json.dumps(
        expected.as_dict(), sort_keys=True
    )
