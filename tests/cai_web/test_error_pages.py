"""Error pages in the site's layout, each saying what to do next: 400 (a request the
server cannot read), 403 (a role without the right; a form whose CSRF token failed) and
500 (a view that raised, with DEBUG off). 404 and 405 are in
tests/training/test_run_pages.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path, reverse

import cai_web.urls

pytestmark = pytest.mark.django_db


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


def _suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("a malformed request")


# This module is the URLconf of the tests that need a view that fails.
urlpatterns = [
    *cai_web.urls.urlpatterns,
    path("test-errors/500/", _boom),
    path("test-errors/400/", _suspicious),
]


def _in_the_site_layout(body: str) -> None:
    assert body.lstrip().startswith("<!doctype html>")
    assert '<header class="topbar">' in body and 'class="brand" href="/"' in body
    assert "css/app.css" in body and 'class="card error-page"' in body


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False


def test_a_request_the_server_cannot_read_gets_the_sites_400_page(client) -> None:
    # More fields than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django refuses to parse the body.
    fields = {f"f{i}": "x" for i in range(1_001)}
    response = client.post(reverse("login"), fields)
    body = response.content.decode()
    assert response.status_code == 400
    _in_the_site_layout(body)
    assert 'id="error-400"' in body and "What to do" in body and "try again" in body


def test_a_suspicious_request_in_a_view_gets_the_same_400_page(failing_urls, client_for, viewer):
    response = client_for(viewer).get("/test-errors/400/")
    body = response.content.decode()
    assert response.status_code == 400 and 'id="error-400"' in body
    _in_the_site_layout(body)
    assert "a malformed request" not in body  # nothing of the exception is disclosed


def test_a_role_without_the_right_gets_the_sites_403_page_with_the_way_out(
    client_for, team, viewer
) -> None:
    response = client_for(viewer).get(reverse("run_launch", args=[team.slug, "sft"]))
    body = response.content.decode()
    assert response.status_code == 403
    _in_the_site_layout(body)
    assert 'id="error-403"' in body and "What to do" in body and "Members page" in body
    assert f'href="/t/{team.slug}/"' in body  # logged in: the team nav is there


def test_a_form_whose_csrf_token_failed_gets_a_403_page_in_the_layout(team, author) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    response = client.post(reverse("team_create"), {"name": "Stale form"})
    body = response.content.decode()
    assert response.status_code == 403
    _in_the_site_layout(body)
    assert 'id="error-403-csrf"' in body and "What to do" in body and "Nothing was saved" in body


def test_a_view_that_raises_gets_the_sites_500_page(failing_urls, client_for, viewer) -> None:
    client = client_for(viewer)
    client.raise_request_exception = False
    response = client.get("/test-errors/500/")
    body = response.content.decode()
    assert response.status_code == 500
    _in_the_site_layout(body)
    assert 'id="error-500"' in body and "What to do" in body and "UTC" in body
    assert "a bug in a view" not in body and "Traceback" not in body
