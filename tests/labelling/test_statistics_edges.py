"""Each edge case of docs/statistics.md ("Edge cases and their rules") has a test here.

The numbers refer to the problems of issue 11: (1) audits overwrote the gold label,
(2) a missing verdict counted as a tie in the debiased agreement, (3) kappa intervals
lied at the edges and the JSON had NaN, (4) calibration bins and Krippendorff's alpha.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from cai_web.models import Membership, Role
from labelling import charts, formats, selectors, services, stats
from labelling.models import Comparison, HumanReview, ReviewQueue
from labelling.services import shown_order_for

from .labelling_fixtures import ids

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------- helpers


def choice_for(queue: ReviewQueue, user, comparison: Comparison, verdict: str) -> str:
    """The slot a reviewer must pick to give canonical ``verdict`` (the screen is blinded)."""
    if verdict in ("tie", "both_bad"):
        return verdict
    order = shown_order_for(seed=queue.seed, reviewer_id=user.pk, comparison_id=comparison.pk)
    return "first" if (order == "ab") == (verdict == "a") else "second"


def review(queue, user, comparison, verdict) -> None:
    _, created = services.review_submit(
        queue=queue,
        comparison=comparison,
        reviewer=user,
        choice=choice_for(queue, user, comparison, verdict),
    )
    assert created


def auditors(team, django_user_model, n: int) -> list:
    users = []
    for i in range(n):
        u = django_user_model.objects.create_user(username=f"aud{i}", password="x-pass-123")
        Membership.objects.create(team=team, user=u, role=Role.AUDITOR)
        users.append(u)
    return users


def whole_set_queue(label_set, user) -> ReviewQueue:
    return services.queue_create(
        label_set=label_set,
        user=user,
        strategy=ReviewQueue.Strategy.UNIFORM,
        sample_size=label_set.comparison_count,
        seed=11,
    )


def no_nan_json(text: str):
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def record(rid, ab, ba, human=None, p_ab=None, p_ba=None) -> formats.LabelRecord:
    return formats.LabelRecord(
        id=rid,
        prompt=f"prompt {rid}",
        response_a=f"a of {rid}",
        response_b=f"b of {rid}",
        judge="j",
        verdict_ab=ab,
        verdict_ba=ba,
        p_a_ab=p_ab,
        p_a_ba=p_ba,
        human=human,
    )


# ----------------------------------------------- (1) gold labels apart from audits


@pytest.fixture
def mt_bench_set(shared_data, team, author):
    data = (shared_data / "judge-eval" / "llmbar-mt-bench" / "GPT-4" / "result.json").read_bytes()
    return services.labelset_import(
        team=team, user=author, name="MT-Bench GPT-4", fmt="llmbar", judge="GPT-4",
        dataset_name="mt-bench", data=data,
    )  # fmt: skip


def test_published_llmbar_figures_stay_exact_after_disagreeing_in_app_reviews(
    mt_bench_set, team, author, viewer, client_for, django_user_model
):
    before = selectors.labelset_statistics(mt_bench_set)
    # LLMBar statistics.json (Vanilla_NoRules, GPT-4, MT-Bench): Acc. 81.0 over 200 pairs.
    assert before.accuracy.accuracy == pytest.approx(0.81)
    people = auditors(team, django_user_model, 3)
    queue = whole_set_queue(mt_bench_set, people[0])
    flip = {"a": "b", "b": "a", "tie": "a"}
    comparisons = list(Comparison.objects.filter(label_set=mt_bench_set).order_by("pk")[:12])
    for i, c in enumerate(comparisons):
        # One auditor disagrees with gold on every pair; on some, two do; one says both bad.
        review(queue, people[0], c, flip[c.gold_verdict])
        if i % 3 == 0:
            review(queue, people[1], c, flip[c.gold_verdict])
        if i == 1:
            review(queue, people[2], c, "both_bad")
    after = selectors.labelset_statistics(mt_bench_set)
    gold = after.agreements_by_reference["gold"]
    for source in ("ab", "ba", "debiased"):
        assert gold[source] == before.agreements_by_reference["gold"][source]
    acc = after.accuracy_by_reference["gold"]
    assert (acc.ab.k + acc.ba.k, acc.ab.n + acc.ba.n) == (324, 400)
    assert after.primary == "gold" and after.accuracy == acc
    html = client_for(viewer).get(reverse("labelset_stats", args=[team.slug, mt_bench_set.pk]))
    assert ids(html.content.decode(), "agree-accuracy") == "81.00%"
    # The audits are counted on their own: 12 audited comparisons, 17 reviews; the
    # 1-1 split on the second pair (a flip and a both bad) has no audit verdict.
    audit = after.agreements_by_reference["audit"]["debiased"]
    assert after.audit_count == 12 and audit.n_human == 11
    # And against gold: every review disagrees, so agreement 0 of 17.
    ag = after.auditor_vs_gold
    assert (ag.n_reviews, ag.n_with_gold) == (17, 17)
    assert (ag.overall.percent.k, ag.overall.percent.n) == (0, 17)


def test_an_auditors_both_unacceptable_keeps_the_gold_label_and_is_its_own_category(
    hand_set, team, django_user_model
):
    (person,) = auditors(team, django_user_model, 1)
    queue = whole_set_queue(hand_set, person)
    h1 = Comparison.objects.get(label_set=hand_set, external_id="h1")  # gold "a", AI a/a
    review(queue, person, h1, "both_bad")
    h1.refresh_from_db()
    assert (h1.gold_verdict, h1.audit_verdict, h1.human_verdict) == ("a", "both_bad", None)
    s = selectors.labelset_statistics(hand_set, combined=True)
    # Against gold the pair still counts (and agrees).
    assert s.agreements_by_reference["gold"]["debiased"].table[0][0] == 1
    audit = s.agreements_by_reference["audit"]["debiased"]
    both_bad = stats.HUMAN_VERDICTS.index("both_bad")
    assert audit.table[0][both_bad] == 1 and audit.excluded_both_bad == 1
    # The combined consensus of a 1-1 split has no label: stated, and only on request.
    assert s.agreements_by_reference["combined"]["debiased"].n_human == 6
    assert s.auditor_vs_gold.overall.table[both_bad][0] == 1


def test_the_combined_consensus_appears_only_when_asked_and_states_its_rule(
    hand_set, team, viewer, client_for
):
    url = reverse("labelset_stats", args=[team.slug, hand_set.pk])
    plain = client_for(viewer).get(url).content.decode()
    assert 'id="reference-combined"' not in plain and 'id="reference-gold"' in plain
    asked = client_for(viewer).get(url, {"combined": "on"}).content.decode()
    assert 'id="reference-combined"' in asked
    assert services.COMBINED_RULE in asked


def test_gold_labels_added_later_are_gold_and_refused_twice(hand_set):
    services.gold_labels_add(
        label_set=hand_set, labels=[services.GoldLabelInput("h8", "b", reviewer="expert")]
    )
    h8 = Comparison.objects.get(label_set=hand_set, external_id="h8")
    assert (h8.gold_verdict, h8.gold_count, h8.audit_count) == ("b", 1, 0)
    assert h8.ai_labels.get().gold_verdict == "b"
    with pytest.raises(services.LabellingError, match="already has a gold label"):
        services.gold_labels_add(
            label_set=hand_set, labels=[services.GoldLabelInput("h8", "a", reviewer="expert")]
        )
    with pytest.raises(services.LabellingError, match="verdict must be"):
        services.gold_labels_add(label_set=hand_set, labels=[services.GoldLabelInput("h8", "x")])
    assert HumanReview.objects.filter(comparison=h8).count() == 1


def test_disagreements_with_gold_are_listed_for_principle_mining(hand_set):
    rows = selectors.ai_human_disagreements(hand_set, reference="gold")
    # h3 (a,b)->tie vs a, h4 tie vs b, h5 tie vs a; h7 has no AI verdict: not listed.
    assert sorted(r.comparison.external_id for r in rows) == ["h3", "h4", "h5"]
    assert {(r.ai_verdict, r.reference_verdict) for r in rows} == {("tie", "a"), ("tie", "b")}


# ------------------------------------------------- (2) a missing verdict is a miss


SIX = [record("m1", "tie", "tie", "tie")] + [record(f"m{i}", None, "a", "tie") for i in range(2, 7)]


def test_a_missing_verdict_is_a_miss_in_the_debiased_agreement_too():
    pairs = [r.to_pair_judgement() for r in SIX]
    ab, ba, deb = (stats.agreement(pairs, s) for s in ("ab", "ba", "debiased"))
    assert (ab.percent.k, ab.percent.n, ab.ai_missing) == (1, 6, 5)
    assert (ba.percent.k, ba.percent.n) == (1, 6)
    # Before: the five missing ones were "tie" and agreed with the human ties (6 / 6).
    assert (deb.percent.k, deb.percent.n, deb.ai_missing, deb.kappa.n) == (1, 6, 5, 1)
    mean_prob = stats.agreement(pairs, "debiased", rule="mean_prob")
    assert mean_prob.ai_missing == 6  # no probabilities at all: no verdict, never a tie


def test_the_sql_path_and_the_gate_count_a_missing_verdict_as_a_miss(team, author):
    label_set = services.labelset_create_from_pairs(
        team=team, user=author, name="Mostly missing", records=SIX
    )
    s = selectors.labelset_statistics(label_set)
    deb = s.agreements["debiased"]
    assert (deb.percent.k, deb.percent.n, deb.ai_missing) == (1, 6, 5)
    team.min_audit_reviews, team.min_audit_agreement = 5, 0.7
    team.save()
    queue = whole_set_queue(label_set, author)
    for c in Comparison.objects.filter(label_set=label_set):
        review(queue, author, c, "tie")
    gate = services.labelset_approval_gate(label_set=label_set)
    assert (gate.agreement.percent.k, gate.agreement.percent.n) == (1, 6)
    assert gate.agreement.ai_missing == 5 and not gate.passes


# ------------------------------------------------------------ (3) kappa intervals


def test_a_nan_variance_never_becomes_a_bound():
    # One rater used a single category: statsmodels' variance is NaN; clipping made it [-1, 1].
    k = stats.kappa_from_table([[30, 20], [0, 0]])
    assert k.kappa == pytest.approx(0.0)
    assert (k.ci_low, k.ci_high, k.interval) == (None, None, "undefined")


def test_four_agreeing_items_are_too_few_to_say_while_wilson_stays_wide():
    k = stats.kappa_from_table([[2, 0], [0, 2]])
    assert k.kappa == 1.0 and (k.ci_low, k.ci_high, k.interval) == (None, None, "too_few")
    assert stats.wilson_rate(4, 4).ci_low < 0.6


def test_small_samples_get_a_seeded_bootstrap_interval():
    table = [[6, 2], [1, 11]]
    k1, k2 = stats.kappa_from_table(table), stats.kappa_from_table(table)
    assert k1 == k2 and k1.interval == "bootstrap"
    assert k1.ci_low < k1.kappa < k1.ci_high


def test_perfect_agreement_never_gives_a_zero_width_interval():
    for n in (10, 100):
        k = stats.kappa_from_table([[n, 0], [0, n]])
        assert k.interval == "observed_agreement"
        assert k.ci_low < k.ci_high == 1.0


def test_labelstats_json_is_strict_json_with_null_for_undefined(team, author):
    # The judge always says a; humans split: kappa's variance is NaN in statsmodels.
    records = [record(f"c{i}", "a", "a", "a" if i % 2 else "b") for i in range(60)]
    label_set = services.labelset_create_from_pairs(
        team=team, user=author, name="Constant judge", records=records
    )
    out = io.StringIO()
    call_command("labelstats", str(label_set.pk), "--json", stdout=out)
    data = no_nan_json(out.getvalue())
    kappa = data["agreements"]["ab"]["kappa"]
    assert kappa["ci_low"] is None and kappa["std"] is None and kappa["interval"] == "undefined"
    assert data["agreements_by_reference"]["audit"]["ab"]["kappa"]["kappa"] is None


# ------------------------------------------------- (4) calibration bins and alpha


def test_a_confidence_of_exactly_0_85_is_in_the_0_85_bin_in_the_table_and_the_chart():
    pairs = [stats.PairJudgement("a", "a", 0.85, 0.85, human="a")]
    bins = stats.calibration(pairs)
    (full,) = [b for b in bins if b.n]
    assert (full.lo, full.hi) == (0.85, 0.9)
    assert (
        stats.calibration([stats.PairJudgement("a", "a", 1.0, 1.0, human="a")])[-1].n == 1
    )  # 1.0 sits in the last bin
    assert "0.85–0.90: 1/1 agree" in str(charts.reliability(bins))


def test_krippendorff_alpha_never_comes_out_nan():
    # Pairable ratings use one category; "b" appears only on a singly rated item.
    reviews = [("1", "x", "a"), ("1", "y", "a"), ("2", "x", "a"), ("2", "y", "a"), ("3", "x", "b")]
    ha = stats.human_agreement(reviews)
    assert ha.krippendorff_alpha is None and ha.alpha_items == 2
    json.dumps(ha.as_dict(), allow_nan=False)


# ------------------------------------------------------------- the page explains


def test_a_set_without_human_labels_says_what_is_missing_instead_of_na(
    review_set, team, viewer, client_for
):
    html = client_for(viewer).get(reverse("labelset_stats", args=[team.slug, review_set.pk]))
    body = html.content.decode()
    for empty in ("empty-gold", "empty-audit", "empty-auditor-gold", "empty-human-human"):
        assert f'id="{empty}"' in body, empty
    assert "Build a review queue" in body or "build a review queue" in body
    assert body.count("n/a") <= 2  # no wall of n/a rows
    assert 'class="muted explain"' in body


def test_every_statistic_row_on_the_page_has_a_one_line_explanation(
    hand_set, team, viewer, client_for
):
    import re

    body = client_for(viewer).get(reverse("labelset_stats", args=[team.slug, hand_set.pk]))
    html = body.content.decode()
    for row in ("pb-consistency", "pb-first", "pb-second", "pb-error", "pb-agreement",
                "pb-mean-p-first", "pb-binomial", "agree-ab", "agree-accuracy"):  # fmt: skip
        m = re.search(rf'id="{row}".*?</tr>', html, re.S)
        assert m and 'class="muted explain"' in m.group(0), row


def test_the_api_gives_both_references_and_strict_json(hand_set, team, owner, client_for):
    from api.services import token_create

    _, token = token_create(user=owner, team=team, name="stats test")
    url = f"/api/v1/teams/{team.slug}/label-sets/{hand_set.pk}/statistics"
    response = client_for(owner).get(
        url, {"combined": "true"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.content
    data = no_nan_json(response.content.decode())
    assert set(data["agreements_by_reference"]) == {"gold", "audit", "combined"}
    assert data["primary_reference"] == "gold" and data["combined_rule"]
    gold = data["agreements_by_reference"]["gold"]["debiased"]
    assert gold["kappa"]["interval"] == "too_few" and gold["kappa"]["ci_low"] is None


def test_the_migration_splits_existing_human_judgments_into_gold_and_audit(
    hand_set, team, django_user_model
):
    import importlib

    from django.apps import apps

    (person,) = auditors(team, django_user_model, 1)
    queue = whole_set_queue(hand_set, person)
    h2 = Comparison.objects.get(label_set=hand_set, external_id="h2")  # gold b
    review(queue, person, h2, "a")
    # As a database from before the split had them: one consensus, no sources.
    Comparison.objects.filter(label_set=hand_set).update(
        gold_verdict=None, gold_count=0, audit_verdict=None, audit_count=0
    )
    migration = importlib.import_module("labelling.migrations.0004_human_verdict_sources")
    migration.backfill(apps, None)
    h2.refresh_from_db()
    assert (h2.gold_verdict, h2.gold_count, h2.audit_verdict, h2.audit_count) == ("b", 1, "a", 1)
    assert h2.ai_labels.get().gold_verdict == "b"


def test_explanations_have_one_home_and_an_unknown_term_is_an_error():
    from labelling.explanations import EXPLANATIONS, explain

    assert all(text.strip() and "\n" not in text for text in EXPLANATIONS.values())
    assert "tie" in explain("rule_agree")
    with pytest.raises(KeyError, match="no explanation"):
        explain("nonsense")


def test_the_bulk_import_path_stores_imported_labels_as_gold(team, author):
    from django.db import transaction

    from labelling.services.labelsets import labelset_store_records

    from .labelling_fixtures import hand_records

    with transaction.atomic():  # fresh: on PostgreSQL this is the COPY path
        label_set = services.labelset_create(
            team=team, user=author, name="Bulk", source_kind="import"
        )
        labelset_store_records(
            label_set=label_set, records=hand_records(), principles={}, fresh=True
        )
    h1 = Comparison.objects.get(label_set=label_set, external_id="h1")
    assert (h1.gold_verdict, h1.gold_count, h1.audit_verdict, h1.audit_count) == ("a", 1, None, 0)
    assert h1.ai_labels.get().gold_verdict == "a"
    s = selectors.labelset_statistics(label_set)
    assert s.primary == "gold" and s.gold_count == 7
