"""List, detail, export, queue builder with its calculator, approval and the gate settings."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from labelling import formats, services
from labelling.models import HumanReview, LabelSet, QueueItem, ReviewQueue

from .jobs import download_export
from .labelling_fixtures import hand_records

pytestmark = pytest.mark.django_db


def test_the_list_shows_sets_with_their_counts_and_status(client_for, viewer, team, hand_set):
    html = client_for(viewer).get(reverse("labelset_list", args=[team.slug])).content.decode()
    assert "Hand-made" in html and ">8<" in html and "open" in html
    assert "Import labels" not in html  # viewers only read


def test_base_navigation_links_to_label_sets(client_for, viewer, team):
    html = client_for(viewer).get(reverse("team_dashboard", args=[team.slug])).content.decode()
    assert f'href="{reverse("labelset_list", args=[team.slug])}"' in html


def test_jsonl_export_round_trips_the_imported_records(client_for, viewer, team, hand_set):
    body, response = download_export(client_for(viewer), team, hand_set, "jsonl")
    assert response["Content-Disposition"].endswith('.jsonl"')
    exported = formats.parse_label_jsonl(body)
    assert exported == hand_records()


def test_csv_export_has_one_header_and_a_row_per_label(client_for, viewer, team, hand_set):
    body, _ = download_export(client_for(viewer), team, hand_set, "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 8 and rows[0]["id"] == "h1" and rows[0]["human"] == "a"
    assert (
        client_for(viewer)
        .get(reverse("labelset_export", args=[team.slug, hand_set.pk, "xml"]))
        .status_code
        == 404
    )


def test_export_includes_reviews_made_in_the_app(client_for, auditor, team, queue):
    item = QueueItem.objects.get(queue=queue, position=1)
    services.review_submit(queue=queue, comparison=item.comparison, reviewer=auditor, choice="tie")
    body, _ = download_export(client_for(auditor), team, queue.label_set, "jsonl")
    record = next(r for r in formats.parse_label_jsonl(body) if r.id == item.comparison.external_id)
    assert record.humans == (formats.HumanLabel(reviewer=auditor.username, verdict="tie"),)


def test_the_queue_builder_builds_a_seeded_queue(client_for, auditor, team, review_set):
    response = client_for(auditor).post(
        reverse("queue_create", args=[team.slug, review_set.pk]),
        {"strategy": "inconsistent_first", "sample_size": "5", "seed": "42"},
    )
    queue = ReviewQueue.objects.get()
    assert response["Location"] == reverse("queue_detail", args=[team.slug, queue.pk])
    assert queue.seed == 42 and queue.items.count() == 5


def test_the_queue_builder_shows_form_errors(client_for, auditor, team, review_set):
    response = client_for(auditor).post(
        reverse("queue_create", args=[team.slug, review_set.pk]),
        {"strategy": "psychic", "sample_size": "0"},
    )
    assert response.status_code == 400 and not ReviewQueue.objects.exists()


def test_the_sample_size_calculator_answers_with_and_without_htmx(
    client_for, auditor, team, review_set
):
    client = client_for(auditor)
    params = {"halfwidth": "0.1", "confidence": "0.95", "expected": "0.5"}
    response = client.get(
        reverse("sample_size", args=[team.slug, review_set.pk]), params, HTTP_HX_REQUEST="true"
    )
    # n0 = 1.96^2 * 0.25 / 0.01 = 96.04; with N = 12: 96.04 / (1 + 95.04 / 12) = 10.78 -> 11.
    assert '<strong id="needed">11</strong>' in response.content.decode()
    html = client.get(
        reverse("queue_create", args=[team.slug, review_set.pk]), params
    ).content.decode()
    assert '<strong id="needed">11</strong>' in html
    response = client.get(reverse("sample_size", args=[team.slug, review_set.pk]), params)
    assert response.status_code == 302  # without htmx: the builder page with the answer


def test_rebuilding_a_queue_gives_the_same_items(client_for, auditor, team, queue):
    before = list(queue.items.order_by("position").values_list("comparison_id", flat=True))
    client_for(auditor).post(reverse("queue_rebuild", args=[team.slug, queue.pk]))
    assert list(queue.items.order_by("position").values_list("comparison_id", flat=True)) == before


def _review_all(queue, user, choice="first"):
    for item in QueueItem.objects.filter(queue=queue).select_related("comparison"):
        services.review_submit(
            queue=queue, comparison=item.comparison, reviewer=user, choice=choice
        )


def test_approval_is_refused_until_the_audit_meets_the_gate(client_for, auditor, team, queue):
    team.min_audit_reviews = 12
    team.min_audit_agreement = 0.0
    team.save()
    client = client_for(auditor)
    url = reverse("labelset_decide", args=[team.slug, queue.label_set.pk])
    response = client.post(url, {"action": "approve"}, follow=True)
    assert "Not approvable yet" in response.content.decode()
    assert LabelSet.objects.get(pk=queue.label_set.pk).status == "open"
    _review_all(queue, auditor)
    response = client.post(url, {"action": "approve", "reason": "audit done"}, follow=True)
    label_set = LabelSet.objects.get(pk=queue.label_set.pk)
    assert label_set.status == "approved" and label_set.decided_by == auditor
    assert label_set.decision_reason == "audit done"
    assert "approved by audrey" in response.content.decode().lower()


def test_reject_needs_a_reason(client_for, auditor, team, review_set):
    client = client_for(auditor)
    url = reverse("labelset_decide", args=[team.slug, review_set.pk])
    assert "Say why" in client.post(url, {"action": "reject"}, follow=True).content.decode()
    client.post(url, {"action": "reject", "reason": "judge prompt was wrong"})
    review_set.refresh_from_db()
    assert (
        review_set.status == "rejected" and review_set.decision_reason == "judge prompt was wrong"
    )


def test_owners_set_the_gate_on_the_settings_form(client_for, owner, team):
    client = client_for(owner)
    url = reverse("labelling_settings", args=[team.slug])
    assert (
        client.post(url, {"min_audit_agreement": "1.5", "min_audit_reviews": "3"}).status_code
        == 200
    )
    team.refresh_from_db()
    assert team.min_audit_agreement == 0.7
    client.post(url, {"min_audit_agreement": "0.85", "min_audit_reviews": "40"})
    team.refresh_from_db()
    assert (team.min_audit_agreement, team.min_audit_reviews) == (0.85, 40)


def test_the_detail_page_shows_the_audit_and_the_queues(client_for, auditor, team, queue):
    services.review_submit(
        queue=queue, comparison=queue.items.first().comparison, reviewer=auditor, choice="tie"
    )
    html = (
        client_for(auditor)
        .get(reverse("labelset_detail", args=[team.slug, queue.label_set.pk]))
        .content.decode()
    )
    assert "over n = 1" in html and "Uniform random" in html
    assert HumanReview.objects.count() == 1
