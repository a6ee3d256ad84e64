"""Login everywhere: Django's LoginRequiredMiddleware, open views marked
``@login_not_required``, and htmx sent to reload the page at the login form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

# The only views a stranger may reach; anything else added here must be deliberate.
OPEN_VIEWS = {"healthz", "login", "logout", "admin:login"}


def _open_view_names(patterns, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "api":
                # The API authenticates every operation itself (token or session), and
                # tests/api/test_permissions.py tries each one without credentials.
                continue
            inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
            names |= _open_view_names(p.url_patterns, inner)
        elif isinstance(p, URLPattern) and not getattr(p.callback, "login_required", True):
            names.add(f"{namespace}{p.name}")
    return names


def test_only_the_login_logout_health_and_admin_login_views_are_open():
    assert _open_view_names(get_resolver().url_patterns) == OPEN_VIEWS


def test_a_logged_out_visitor_is_sent_to_log_in_and_comes_back(client, team, owner):
    response = client.get(reverse("team_dashboard", args=[team.slug]))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("login")
    assert parse_qs(location.query)["next"] == [reverse("team_dashboard", args=[team.slug])]

    back = client.post(
        response["Location"], {"username": owner.username, "password": "correct-horse-battery"}
    )
    assert back.status_code == 302 and back["Location"] == reverse(
        "team_dashboard", args=[team.slug]
    )


def test_the_login_page_health_check_and_static_files_are_open(client):
    assert client.get(reverse("login")).status_code == 200
    health = client.get(reverse("healthz"))
    assert health.status_code == 200 and health.json() == {"ok": True}
    static = client.get("/static/vendor/htmx-2.0.8.min.js")
    assert static.status_code == 200


def test_logging_out_when_already_logged_out_lands_on_the_login_page(client):
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_the_admin_sends_strangers_to_its_own_login_page(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login") + "?next=")
    assert client.get(reverse("admin:login")).status_code == 200


def test_an_htmx_request_from_a_logged_out_browser_reloads_the_page_at_the_login_form(client, team):
    page = "http://testserver" + reverse("team_members", args=[team.slug])
    response = client.get(
        reverse("team_dashboard", args=[team.slug]),
        headers={"HX-Request": "true", "HX-Current-URL": page},
    )
    # Not a 302 htmx would follow and swap into the fragment: HX-Redirect navigates.
    assert response.status_code == 200
    assert response.content == b""
    location = urlsplit(response["HX-Redirect"])
    assert location.path == reverse("login")
    # Back to the page the visitor was on, not to the fragment's URL.
    assert parse_qs(location.query)["next"] == [reverse("team_members", args=[team.slug])]


def test_an_htmx_request_without_a_current_url_comes_back_to_its_own_url(client, team):
    url = reverse("team_dashboard", args=[team.slug])
    response = client.post(url, headers={"HX-Request": "true"})
    location = urlsplit(response["HX-Redirect"])
    assert location.path == reverse("login") and parse_qs(location.query)["next"] == [url]


def test_signed_in_htmx_requests_are_answered_normally(client_for, team, viewer):
    response = client_for(viewer).get(
        reverse("team_dashboard", args=[team.slug]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "HX-Redirect" not in response
