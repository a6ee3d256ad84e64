"""Services: derived fields, idempotent label upserts, tallies, queue strategies, the training gate."""

from __future__ import annotations

from collections import Counter

import pytest

from labelling import services, stats
from labelling.formats import LabelRecord
from labelling.models import (
    AILabel,
    AILabelTally,
    Comparison,
    LabelSet,
    LabelSetOverride,
    ReviewQueue,
)

from .labelling_fixtures import HAND_ROWS

pytestmark = pytest.mark.django_db


def test_derived_fields_are_those_of_derive_label(hand_set):
    for rid, ab, ba, pab, pba, *_ in HAND_ROWS:
        label = AILabel.objects.get(comparison__external_id=rid)
        d = stats.derive_label(ab, ba, pab, pba)
        assert (label.consistent, label.preferred_slot, label.final, label.rule) == (
            d.consistent,
            d.preferred_slot,
            d.final,
            d.rule,
        )
        assert label.p_debiased == d.p_debiased
        if d.p_debiased is not None:
            assert label.confidence == max(d.p_debiased, 1 - d.p_debiased)


def test_a_mean_prob_set_derives_final_labels_by_threshold(team, author):
    records = [
        LabelRecord(
            id=f"m{i}",
            prompt="p",
            response_a="a",
            response_b="b",
            judge="j",
            verdict_ab="a",
            verdict_ba="b",
            p_a_ab=pab,
            p_a_ba=pba,
        )
        for i, (pab, pba) in enumerate([(0.9, 0.6), (0.6, 0.5), (0.2, 0.3)])
    ]
    ls = services.labelset_create_from_pairs(
        team=team, user=author, name="m", records=records, rule="mean_prob", threshold=0.6
    )
    finals = [AILabel.objects.get(comparison__external_id=f"m{i}").final for i in range(3)]
    assert finals == ["a", "tie", "b"]  # 0.75 > 0.6; 0.55 in between; 0.25 < 0.4
    assert ls.rule == "mean_prob"


def test_ailabel_bulk_create_is_an_idempotent_upsert_that_keeps_tallies_right(hand_set):
    labels = [
        services.AILabelInput(
            external_id="h3",
            judge="judge-7b",
            verdict_ab="a",
            verdict_ba="a",
            p_a_ab=0.9,
            p_a_ba=0.9,
        )
    ]
    for _ in range(2):
        services.ailabel_bulk_create(label_set=hand_set, labels=labels)
    assert AILabel.objects.filter(label_set=hand_set).count() == 8
    assert AILabel.objects.get(comparison__external_id="h3").consistent is True
    hand_set.refresh_from_db()
    assert hand_set.ai_label_count == 8
    table = Counter()
    for t in AILabelTally.objects.filter(label_set=hand_set):
        table[(t.verdict_ab, t.verdict_ba)] += t.n
    assert table[("a", "a")] == 3 and table[("a", "b")] == 1


def test_a_second_judge_adds_labels_to_the_same_comparisons(hand_set):
    services.ailabel_bulk_create(
        label_set=hand_set,
        labels=[
            services.AILabelInput(external_id="h1", judge="other", verdict_ab="b", verdict_ba="b")
        ],
    )
    assert AILabel.objects.filter(comparison__external_id="h1").count() == 2
    assert set(AILabelTally.objects.filter(label_set=hand_set).values_list("judge", flat=True)) == {
        "judge-7b",
        "other",
    }


def test_labels_for_unknown_comparisons_are_refused(hand_set):
    with pytest.raises(services.LabellingError, match="No comparison with id nope"):
        services.ailabel_bulk_create(
            label_set=hand_set,
            labels=[
                services.AILabelInput(external_id="nope", judge="j", verdict_ab="a", verdict_ba="a")
            ],
        )


def test_a_run_can_create_a_set_from_plain_data(team, author):
    ls = services.labelset_create(
        team=team, user=author, name="Run 7 labels", source_kind="run", source_detail={"run_id": 7}
    )
    services.comparison_bulk_create(
        label_set=ls,
        comparisons=[
            services.ComparisonInput(
                external_id="c1", prompt="p", response_a="x", response_b="y", principle_key="harm"
            )
        ],
    )
    services.ailabel_bulk_create(
        label_set=ls, labels=[services.AILabelInput("c1", "policy-1", "a", "a", 0.7, 0.8)]
    )
    ls.refresh_from_db()
    assert (ls.source_kind, ls.source_detail, ls.comparison_count, ls.ai_label_count) == (
        "run",
        {"run_id": 7},
        1,
        1,
    )
    assert AILabel.objects.get().principle_key == "harm"


@pytest.mark.parametrize("strategy", ReviewQueue.Strategy.values)
def test_every_strategy_is_seeded_and_rebuildable(review_set, auditor, strategy):
    a = services.queue_sample(label_set=review_set, strategy=strategy, sample_size=6, seed=3)
    b = services.queue_sample(label_set=review_set, strategy=strategy, sample_size=6, seed=3)
    c = services.queue_sample(label_set=review_set, strategy=strategy, sample_size=12, seed=4)
    assert a == b and len(a) == len(set(a)) == 6 and len(c) == 12
    queue = services.queue_create(
        label_set=review_set, user=auditor, strategy=strategy, sample_size=6, seed=3
    )
    assert list(queue.items.order_by("position").values_list("comparison_id", flat=True)) == a


def test_stratified_sampling_allocates_in_proportion(review_set):
    ids = services.queue_sample(
        label_set=review_set, strategy="by_principle", sample_size=6, seed=1
    )
    keys = Counter(Comparison.objects.get(pk=i).principle_key for i in ids)
    assert keys == {"harm": 3, "honesty": 3}  # 6 and 6 comparisons


def test_inconsistent_pairs_come_first(review_set):
    bad = set(
        AILabel.objects.filter(label_set=review_set, consistent=False).values_list(
            "comparison_id", flat=True
        )
    )
    ids = services.queue_sample(
        label_set=review_set, strategy="inconsistent_first", sample_size=12, seed=9
    )
    assert set(ids[: len(bad)]) == bad and 0 < len(bad) < 12


def test_low_margin_first_orders_by_debiased_confidence(review_set):
    ids = services.queue_sample(
        label_set=review_set, strategy="low_margin_first", sample_size=12, seed=9
    )
    conf = [AILabel.objects.get(comparison_id=i).confidence for i in ids]
    assert conf == sorted(conf)


def test_largest_remainder_never_overfills_a_stratum():
    alloc = services._largest_remainder({"x": 1, "y": 10, "z": 1}, 5)
    assert sum(alloc.values()) == 5 and alloc["x"] <= 1 and alloc["z"] <= 1


def test_training_gate_refuses_an_unapproved_set_without_a_reason(hand_set, owner):
    with pytest.raises(services.LabelSetNotApproved, match="is open, not approved"):
        services.labelset_require_approved(hand_set)
    with pytest.raises(services.LabelSetNotApproved):
        services.labelset_require_approved(hand_set, override_reason="   ", user=owner)
    assert not LabelSetOverride.objects.exists()


def test_training_gate_records_an_override(hand_set, owner):
    assert (
        services.labelset_require_approved(hand_set, override_reason="smoke test run", user=owner)
        == hand_set
    )
    override = LabelSetOverride.objects.get()
    assert (override.user, override.reason, override.status_at_override) == (
        owner,
        "smoke test run",
        "open",
    )


def test_training_gate_passes_an_approved_set(hand_set, owner):
    LabelSet.objects.filter(pk=hand_set.pk).update(status="approved")
    assert services.labelset_require_approved(hand_set).status == "approved"
    assert not LabelSetOverride.objects.exists()


def test_a_set_with_nothing_in_it_is_refused(team, author):
    with pytest.raises(services.LabellingError, match="nothing to import"):
        services.labelset_create_from_pairs(team=team, user=author, name="empty", records=[])


def test_canonical_verdict_maps_slots_back():
    assert services.canonical_verdict("first", "ab") == "a"
    assert services.canonical_verdict("first", "ba") == "b"
    assert services.canonical_verdict("second", "ba") == "a"
    assert services.canonical_verdict("both_bad", "ba") == "both_bad"
    with pytest.raises(services.LabellingError):
        services.canonical_verdict("left", "ab")


def test_consensus_needs_a_strict_majority():
    assert services.consensus(["a", "a", "b"]) == "a"
    assert services.consensus(["a", "b"]) is None
    assert services.consensus([]) is None


def test_ai_labels_mirror_the_human_consensus_for_sql_aggregation(hand_set, review_set, auditor):
    mirrored = dict(
        AILabel.objects.filter(label_set=hand_set).values_list(
            "comparison__external_id", "human_verdict"
        )
    )
    assert mirrored == {rid: human for rid, *_, human, _ in HAND_ROWS}
    assert not AILabel.objects.get(comparison__external_id="h8").reviewed
    queue = services.queue_create(
        label_set=review_set, user=auditor, strategy="uniform", sample_size=2, seed=1
    )
    item = queue.items.first()
    services.review_submit(queue=queue, comparison=item.comparison, reviewer=auditor, choice="tie")
    label = AILabel.objects.get(comparison=item.comparison)
    assert label.reviewed and label.human_verdict == "tie"
