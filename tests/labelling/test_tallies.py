"""The per-slice tallies that AI-label writes keep with the batch's deltas equal a full
recount after any sequence of inserts, overwrites and re-sent batches (hypothesis)."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelling.models import AILabel, AILabelTally, Comparison, LabelSet
from labelling.services import (
    AILabelInput,
    ComparisonInput,
    ailabel_bulk_create,
    comparison_bulk_create,
    labelset_create,
)

pytestmark = pytest.mark.django_db

COMPARISONS = 8
SLICES = [("harm", "safety"), ("honesty", "truth"), ("", "")]
_names = itertools.count()

verdicts = st.sampled_from(["a", "b", "tie", None])
probability = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0))
label = st.builds(
    AILabelInput,
    external_id=st.integers(0, COMPARISONS - 1).map(lambda i: f"c{i}"),
    judge=st.sampled_from(["judge-a", "judge-b"]),
    verdict_ab=verdicts,
    verdict_ba=verdicts,
    p_a_ab=probability,
    p_a_ba=probability,
)
# A batch, and whether it is then sent a second time unchanged (a redelivered task).
batches = st.lists(st.tuples(st.lists(label, min_size=1, max_size=6), st.booleans()), max_size=8)

KEY = ("judge", "principle_key", "category", "verdict_ab", "verdict_ba")


def _recount(label_set: LabelSet) -> dict[tuple, tuple]:
    return {
        tuple(g[k] for k in KEY): (
            g["n"],
            g["n_p_ab"],
            g["s_ab"] or 0.0,
            g["n_p_ba"],
            g["s_ba"] or 0.0,
        )
        for g in AILabel.objects.filter(label_set=label_set)
        .values(*KEY)
        .annotate(
            n=Count("id"),
            n_p_ab=Count("p_a_ab"),
            s_ab=Sum("p_a_ab"),
            n_p_ba=Count("p_a_ba"),
            s_ba=Sum("p_a_ba"),
        )
        .order_by()
    }


def _kept(label_set: LabelSet) -> dict[tuple, tuple]:
    return {
        tuple(getattr(t, k) for k in KEY): (t.n, t.n_p_ab, t.sum_p_ab, t.n_p_ba, t.sum_p_ba)
        for t in AILabelTally.objects.filter(label_set=label_set)
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=batches)
def test_incremental_tallies_equal_a_full_recount(team, batches) -> None:
    with transaction.atomic():
        label_set = labelset_create(
            team=team, user=None, name=f"prop {next(_names)}", source_kind="import"
        )
        comparison_bulk_create(
            label_set=label_set,
            comparisons=[
                ComparisonInput(
                    external_id=f"c{i}",
                    prompt="p",
                    response_a="a",
                    response_b="b",
                    principle_key=SLICES[i % 3][0],
                    category=SLICES[i % 3][1],
                )
                for i in range(COMPARISONS)
            ],
        )
        for batch, resend in batches:
            ailabel_bulk_create(label_set=label_set, labels=batch)
            if resend:
                ailabel_bulk_create(label_set=label_set, labels=batch)
        kept, recount = _kept(label_set), _recount(label_set)
        assert kept.keys() == recount.keys()
        for key, (n, n_ab, s_ab, n_ba, s_ba) in recount.items():
            assert kept[key][0] == n
            assert (kept[key][1], kept[key][3]) == (n_ab, n_ba)
            assert kept[key][2] == pytest.approx(s_ab, abs=1e-9)
            assert kept[key][4] == pytest.approx(s_ba, abs=1e-9)
        label_set.refresh_from_db()
        assert label_set.ai_label_count == AILabel.objects.filter(label_set=label_set).count()
        assert label_set.comparison_count == Comparison.objects.filter(label_set=label_set).count()
        transaction.set_rollback(True)


def test_a_write_reads_only_the_tally_rows_of_its_batch(
    team, django_assert_max_num_queries
) -> None:
    """The query count of one batch does not grow with the set (no GROUP BY over it)."""
    label_set = labelset_create(team=team, user=None, name="flat", source_kind="import")
    n = 2000
    comparison_bulk_create(
        label_set=label_set,
        comparisons=[
            ComparisonInput(
                external_id=f"c{i}",
                prompt="p",
                response_a="a",
                response_b="b",
                principle_key="harm",
            )
            for i in range(n)
        ],
    )
    ailabel_bulk_create(
        label_set=label_set,
        labels=[AILabelInput(f"c{i}", "j", "a", "b", 0.7, 0.4) for i in range(n - 64)],
    )
    batch = [AILabelInput(f"c{i}", "j", "b", "b", 0.2, 0.3) for i in range(n - 64, n)]
    with django_assert_max_num_queries(12):
        ailabel_bulk_create(label_set=label_set, labels=batch)
    assert _kept(label_set).keys() == _recount(label_set).keys()
