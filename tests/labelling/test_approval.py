"""The label-set approval gate is one service rule; pages, the command and training ask it."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from labelling import selectors, services
from labelling.models import LabelSet, QueueItem

pytestmark = pytest.mark.django_db


def _review_all(queue, user, choice="first"):
    for item in QueueItem.objects.filter(queue=queue).select_related("comparison"):
        services.review_submit(
            queue=queue, comparison=item.comparison, reviewer=user, choice=choice
        )


def _gate(team, *, reviews: int, agreement: float) -> None:
    team.min_audit_reviews = reviews
    team.min_audit_agreement = agreement
    team.save()


def test_the_gate_names_every_shortfall_of_an_unaudited_set(team, review_set):
    _gate(team, reviews=5, agreement=0.8)
    gate = services.labelset_approval_gate(label_set=review_set)
    assert not gate.passes
    assert gate.shortfalls == (
        "0 audited comparison(s) with an a/b/tie verdict, the team requires 5",
        "no agreement yet, the team requires 80%",
    )
    assert (gate.min_reviews, gate.min_agreement, gate.n_reviews) == (5, 0.8, 0)


def test_the_gate_opens_once_enough_reviews_agree(team, queue, auditor):
    _gate(team, reviews=12, agreement=0.0)
    _review_all(queue, auditor)
    gate = services.labelset_approval_gate(label_set=queue.label_set)
    assert gate.passes and gate.shortfalls == () and gate.n_reviews == 12
    assert gate.summary_line.startswith("audited agreement ") and "n = 12" in gate.summary_line


def test_the_gate_follows_the_team_thresholds_not_the_reading(team, queue, auditor):
    items = QueueItem.objects.filter(queue=queue).select_related("comparison")
    for item in list(items)[:11]:
        services.review_submit(
            queue=queue, comparison=item.comparison, reviewer=auditor, choice="first"
        )
    audit = selectors.audit_summary(queue.label_set)
    _gate(team, reviews=12, agreement=0.0)
    gate = services.labelset_approval_gate(label_set=queue.label_set, audit=audit)
    assert gate.audit is audit
    assert gate.shortfalls == (
        "11 audited comparison(s) with an a/b/tie verdict, the team requires 12",
    )


def test_the_audit_selector_only_reads(queue):
    audit = selectors.audit_summary(queue.label_set)
    assert not hasattr(audit, "passes") and not hasattr(audit, "shortfalls")
    assert audit.n_reviews == 0 and audit.agreement.percent.n == 0


def test_approving_enforces_the_gate_with_its_reasons(team, review_set, auditor):
    _gate(team, reviews=3, agreement=0.5)
    with pytest.raises(services.LabellingError, match="Not approvable yet: 0 audited"):
        services.labelset_approve(label_set=review_set, user=auditor)
    assert LabelSet.objects.get(pk=review_set.pk).status == "open"


def test_training_is_told_why_a_set_is_not_approvable(team, review_set):
    _gate(team, reviews=3, agreement=0.5)
    with pytest.raises(services.LabelSetNotApproved) as err:
        services.labelset_require_approved(review_set)
    assert "is open, not approved" in str(err.value)
    assert "the team requires 3" in str(err.value)


def test_training_is_told_to_approve_a_set_that_meets_the_gate(team, queue, auditor):
    _gate(team, reviews=1, agreement=0.0)
    _review_all(queue, auditor)
    with pytest.raises(services.LabelSetNotApproved, match="meets the gate, so approve it"):
        services.labelset_require_approved(queue.label_set)


def test_the_pages_and_the_command_show_the_services_decision(client_for, team, queue, auditor):
    _gate(team, reviews=12, agreement=0.0)
    client = client_for(auditor)
    label_set = queue.label_set
    detail = client.get(reverse("labelset_detail", args=[team.slug, label_set.pk])).content
    stats_page = client.get(reverse("labelset_stats", args=[team.slug, label_set.pk])).content
    assert "the team requires 12" in detail.decode() and "disabled" in detail.decode()
    assert "not met" in stats_page.decode() and "the team requires 12" in stats_page.decode()
    _review_all(queue, auditor)
    detail = client.get(reverse("labelset_detail", args=[team.slug, label_set.pk])).content
    stats_page = client.get(reverse("labelset_stats", args=[team.slug, label_set.pk])).content
    assert "The gate is met." in detail.decode()
    assert '<strong class="ok">met</strong>' in stats_page.decode()
    out = StringIO()
    call_command("labelstats", str(label_set.pk), "--json", stdout=out)
    report = json.loads(out.getvalue())
    gate = services.labelset_approval_gate(label_set=label_set)
    assert report["audit"]["passes"] is gate.passes is True
    assert report["audit"]["n_reviews"] == gate.n_reviews == 12


# ---- issue 11, problem 8: small sets, the disabled button's reason, reopening, history


def test_a_set_smaller_than_the_team_minimum_is_approvable_once_every_comparison_is_reviewed(
    team, queue, auditor
):
    _gate(team, reviews=20, agreement=0.0)  # the set has 12 comparisons
    label_set = queue.label_set
    items = list(QueueItem.objects.filter(queue=queue).select_related("comparison"))
    for item in items[:-1]:
        services.review_submit(
            queue=queue, comparison=item.comparison, reviewer=auditor, choice="first"
        )
    gate = services.labelset_approval_gate(label_set=label_set)
    assert gate.small_set and not gate.passes
    assert gate.shortfalls == (
        "11 of the set's 12 comparisons reviewed in the app; a set smaller than the team "
        "minimum of 20 needs every comparison reviewed",
    )
    with pytest.raises(services.LabellingError, match="11 of the set's 12"):
        services.labelset_approve(label_set=label_set, user=auditor)
    services.review_submit(
        queue=queue, comparison=items[-1].comparison, reviewer=auditor, choice="first"
    )
    gate = services.labelset_approval_gate(label_set=label_set)
    assert gate.passes and gate.comparisons_reviewed == 12
    services.labelset_approve(label_set=label_set, user=auditor)
    assert LabelSet.objects.get(pk=label_set.pk).status == "approved"


def test_a_small_set_still_needs_the_agreement(team, queue, auditor):
    _gate(team, reviews=20, agreement=1.0)
    _review_all(queue, auditor, choice="tie")
    gate = services.labelset_approval_gate(label_set=queue.label_set)
    assert not gate.passes and len(gate.shortfalls) == 1
    assert gate.shortfalls[0].endswith("the team requires 100%")


def test_the_disabled_approve_button_says_why(client_for, team, review_set, auditor):
    _gate(team, reviews=5, agreement=0.8)
    body = (
        client_for(auditor)
        .get(reverse("labelset_detail", args=[team.slug, review_set.pk]))
        .content.decode()
    )
    button = body.split('id="approve-button"')[1].split(">")[0]
    assert "disabled" in button and 'aria-describedby="approve-why"' in button
    assert "0 audited comparison(s) with an a/b/tie verdict, the team requires 5" in button
    why = body.split('id="approve-why">')[1].split("</p>")[0]
    assert why.startswith("Approve is disabled. Not approvable yet: 0 audited")


def test_a_rejected_set_can_be_reopened_and_the_history_keeps_every_step(
    client_for, team, review_set, auditor
):
    client = client_for(auditor)
    url = reverse("labelset_decide", args=[team.slug, review_set.pk])
    client.post(url, {"action": "reject", "reason": "judge misread the task"})
    assert LabelSet.objects.get(pk=review_set.pk).status == "rejected"
    detail = client.get(reverse("labelset_detail", args=[team.slug, review_set.pk]))
    assert 'id="reopen-button"' in detail.content.decode()
    response = client.post(url, {"action": "reopen", "reason": "new judge prompt"})
    assert response.status_code == 302
    label_set = LabelSet.objects.get(pk=review_set.pk)
    assert label_set.status == "open" and label_set.decided_by == auditor
    steps = list(
        label_set.decisions.order_by("pk").values_list("action", "status_before", "reason")
    )
    assert steps == [
        ("reject", "open", "judge misread the task"),
        ("reopen", "rejected", "new judge prompt"),
    ]
    body = client.get(reverse("labelset_detail", args=[team.slug, review_set.pk])).content.decode()
    history = body.split('id="decision-history">')[1].split("</ul>")[0]
    assert "Reopened" in history and "Rejected" in history and "new judge prompt" in history


def test_only_a_rejected_set_can_be_reopened(review_set, auditor):
    with pytest.raises(services.LabellingError, match="Only a rejected label set can be reopened"):
        services.labelset_reopen(label_set=review_set, user=auditor)
    assert not review_set.decisions.exists()
