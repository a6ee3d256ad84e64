"""Every labelling URL tried by every member of the cast: auditors review, viewers only
read, authors import but cannot review, owners do everything, outsiders get 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ALL = ("owner", "author", "auditor", "viewer")
REVIEWERS = ("owner", "auditor")


def matrix(allowed: tuple[str, ...], ok: int = 200) -> dict[str, int]:
    out = {role: (ok if role in allowed else 403) for role in ALL}
    out["outsider"] = 404
    return out


@pytest.fixture
def urls(team, review_set, queue):
    s, ls, q = team.slug, review_set.pk, queue.pk
    return [
        # (method, url, data, htmx, expected per role)
        ("get", reverse("labelset_list", args=[s]), None, False, matrix(ALL)),
        ("get", reverse("labelset_import", args=[s]), None, False, matrix(("owner", "author"))),
        (
            "post",
            reverse("labelset_import", args=[s]),
            {"name": ""},
            False,
            matrix(("owner", "author"), 400),
        ),
        ("get", reverse("labelling_settings", args=[s]), None, False, matrix(("owner",))),
        (
            "post",
            reverse("labelling_settings", args=[s]),
            {"min_audit_agreement": "0.8", "min_audit_reviews": "3"},
            False,
            matrix(("owner",), 302),
        ),
        ("get", reverse("labelset_detail", args=[s, ls]), None, False, matrix(ALL)),
        ("get", reverse("labelset_stats", args=[s, ls]), None, False, matrix(ALL)),
        ("get", reverse("labelset_export", args=[s, ls, "jsonl"]), None, False, matrix(ALL)),
        ("get", reverse("labelset_export", args=[s, ls, "csv"]), None, False, matrix(ALL)),
        (
            "post",
            reverse("labelset_decide", args=[s, ls]),
            {"action": "reject", "reason": "x"},
            False,
            matrix(REVIEWERS, 302),
        ),
        ("get", reverse("queue_create", args=[s, ls]), None, False, matrix(REVIEWERS)),
        (
            "post",
            reverse("queue_create", args=[s, ls]),
            {"strategy": "uniform", "sample_size": "3", "seed": "1"},
            False,
            matrix(REVIEWERS, 302),
        ),
        (
            "get",
            reverse("sample_size", args=[s, ls]),
            {"halfwidth": "0.1", "confidence": "0.95", "expected": "0.5"},
            True,
            matrix(REVIEWERS),
        ),
        ("get", reverse("queue_detail", args=[s, q]), None, False, matrix(ALL)),
        ("post", reverse("queue_rebuild", args=[s, q]), {}, False, matrix(REVIEWERS, 302)),
        ("get", reverse("review_next", args=[s, q]), None, False, matrix(REVIEWERS, 302)),
        ("get", reverse("review_item", args=[s, q, 1]), None, False, matrix(REVIEWERS)),
        (
            "post",
            reverse("review_item", args=[s, q, 1]),
            {"choice": "tie"},
            False,
            matrix(REVIEWERS, 302),
        ),
    ]


def test_every_url_answers_each_role_as_the_matrix_says(cast, client_for, urls):
    failures = []
    for method, url, data, htmx, expected in urls:
        for role, user in cast.items():
            client = client_for(user)
            extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            response = getattr(client, method)(url, data or {}, **extra)
            if response.status_code != expected[role]:
                failures.append(
                    f"{role} {method.upper()} {url}: {response.status_code} != {expected[role]}"
                )
    assert not failures, "\n".join(failures)


def test_anonymous_visitors_are_sent_to_the_login_page(client_for, urls):
    client = client_for(None)
    for method, url, data, _, _ in urls:
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_objects_of_another_team_are_404_even_for_its_owner(
    client_for, outsider, other_team, review_set, queue
):
    client = client_for(outsider)
    s = other_team.slug  # the outsider's own team, someone else's objects
    for url in (
        reverse("labelset_detail", args=[s, review_set.pk]),
        reverse("labelset_stats", args=[s, review_set.pk]),
        reverse("labelset_export", args=[s, review_set.pk, "jsonl"]),
        reverse("queue_detail", args=[s, queue.pk]),
        reverse("review_item", args=[s, queue.pk, 1]),
    ):
        assert client.get(url).status_code == 404, url


def test_viewers_see_no_review_or_approval_controls(client_for, viewer, team, review_set, queue):
    html = (
        client_for(viewer)
        .get(reverse("labelset_detail", args=[team.slug, review_set.pk]))
        .content.decode()
    )
    assert "Build a review queue" not in html and 'value="approve"' not in html
    html = (
        client_for(viewer).get(reverse("queue_detail", args=[team.slug, queue.pk])).content.decode()
    )
    assert "Review next item" not in html


def test_the_dashboard_shows_a_label_set_panel(client_for, viewer, team, review_set):
    html = client_for(viewer).get(reverse("team_dashboard", args=[team.slug])).content.decode()
    assert 'id="panel-labelling"' in html and review_set.name in html
    assert reverse("labelset_list", args=[team.slug]) in html
