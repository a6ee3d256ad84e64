"""Tokens, problem details, If-Match, idempotency keys and cursors, through real requests."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiToken
from api.services import token_create, token_digest
from tests.api.conftest import ApiClient
from tests.factories import published_demo_version
from training import services as training
from training.models import Run

pytestmark = pytest.mark.django_db

T = "/api/v1/teams/red-team"


def _json(client, method, url, body, **headers):
    return getattr(client, method)(
        url, json.dumps(body), content_type="application/json", headers=headers
    )


# --- tokens -----------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_hashed_and_stamped_when_used(client_for, author, team):
    page = client_for(author).post(reverse("api_tokens", args=[team.slug]), {"name": "nightly"})
    assert page.status_code == 201 and "no-store" in page["Cache-Control"]
    raw = page.context["raw_token"]
    assert raw.startswith("cai_") and raw in page.content.decode()
    token = ApiToken.objects.get(name="nightly")
    assert token.digest == token_digest(raw) and raw not in {token.digest, token.prefix}
    assert token.last_used_at is None
    assert (
        raw not in client_for(author).get(reverse("api_tokens", args=[team.slug])).content.decode()
    )

    assert ApiClient(raw).get(f"{T}/runs").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_settings_page_refuses_a_nameless_token_on_the_field(client_for, author, team):
    page = client_for(author).post(reverse("api_tokens", args=[team.slug]), {"name": " "})
    assert page.status_code == 400 and page.context["form"].errors["name"]
    assert not ApiToken.objects.exists()


def test_htmx_creates_and_revokes_in_place(client_for, author, team):
    c = client_for(author)
    page = c.post(
        reverse("api_tokens", args=[team.slug]), {"name": "ci"}, headers={"HX-Request": "true"}
    )
    assert page.status_code == 200 and page.content.decode().lstrip().startswith(
        '<div id="tokens">'
    )
    token = ApiToken.objects.get()
    page = c.post(
        reverse("api_token_revoke", args=[team.slug, token.pk]), headers={"HX-Request": "true"}
    )
    assert page.status_code == 200 and "revoked" in page.content.decode()


def test_a_revoked_token_is_refused_with_401(author, team):
    token, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    assert client.get(f"{T}/runs").status_code == 200
    Client().force_login(author)
    c = Client()
    c.force_login(author)
    assert c.post(reverse("api_token_revoke", args=[team.slug, token.pk])).status_code == 302
    response = client.get(f"{T}/runs")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["type"] == "urn:cai-web:problem:unauthenticated"


def test_a_token_only_reaches_its_own_team(author, team, other_team):
    from cai_web.models import Membership, Role

    Membership.objects.create(team=other_team, user=author, role=Role.OWNER)
    _, raw = token_create(user=author, team=team, name="red only")
    client = ApiClient(raw)
    assert client.get("/api/v1/teams/other-team/runs").status_code == 404
    assert [t["slug"] for t in client.get("/api/v1/teams").json()] == ["red-team"]


def test_a_token_follows_its_users_role_as_it_changes(author, team):
    from cai_web.models import Membership

    _, raw = token_create(user=author, team=team, name="x")
    body = {"name": "m", "path": "/nonexistent"}
    assert _json(ApiClient(raw), "post", f"{T}/models", body).status_code == 422
    Membership.objects.filter(user=author).update(role="viewer")
    assert _json(ApiClient(raw), "post", f"{T}/models", body).status_code == 403


def test_tokens_are_rate_limited_with_retry_after(author, team, settings):
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 3, 3600
    _, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    assert [client.get(f"{T}").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(f"{T}")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["type"] == "urn:cai-web:problem:rate-limited"


def test_csrf_applies_to_the_browser_session_and_not_to_tokens(author, team, tmp_path):
    body = {"name": "m", "path": str(tmp_path)}
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(author)
    refused = _json(browser, "post", f"{T}/models", body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    browser.get(reverse("api_tokens", args=[team.slug]))  # sets the csrftoken cookie
    csrf = browser.cookies["csrftoken"].value
    ok = _json(browser, "post", f"{T}/models", body, **{"X-CSRFToken": csrf})
    assert ok.status_code == 422 and ok.json()["field"] == "path"  # past CSRF, to the service
    _, raw = token_create(user=author, team=team, name="x")
    token_client = ApiClient(raw, enforce_csrf_checks=True)
    assert _json(token_client, "post", f"{T}/models", body).json()["field"] == "path"


def test_no_credentials_get_401_not_a_login_redirect():
    response = Client().get(f"{T}/runs")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


# --- problem details --------------------------------------------------------------------


def test_a_service_refusal_is_a_problem_with_the_forms_message_and_field(author, team):
    _, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    from django.core.files.uploadedfile import SimpleUploadedFile

    first = client.post(
        f"{T}/prompt-sets", {"name": "p", "file": SimpleUploadedFile("a.txt", b"a\nb\n")}
    )
    assert first.status_code == 201
    again = client.post(
        f"{T}/prompt-sets", {"name": "p", "file": SimpleUploadedFile("a.txt", b"c\n")}
    )
    problem = again.json()
    assert again.status_code == 422 and problem["field"] == "name"
    assert problem["detail"] == "The team already has a prompt set named 'p'."
    assert problem["title"] and problem["type"] == "urn:cai-web:problem:invalid"


def test_a_schema_violation_names_the_field(author, team):
    _, raw = token_create(user=author, team=team, name="x")
    response = _json(ApiClient(raw), "post", f"{T}/runs", {"kind": "sft", "shard_size": 0})
    problem = response.json()
    assert response.status_code == 422 and problem["field"] == "shard_size", problem


def test_an_unknown_kind_and_a_foreign_input_name_their_field(author, team, other_team, tmp_path):
    _, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    response = _json(client, "post", f"{T}/runs", {"kind": "nope"})
    assert response.status_code == 422 and response.json()["field"] == "kind"
    response = _json(
        client, "post", f"{T}/runs", {"kind": "critique_revision", "inputs": {"model": 99999}}
    )
    assert response.status_code == 422 and response.json()["field"] == "model"
    assert not Run.objects.exists()


# --- If-Match ---------------------------------------------------------------------------


def test_draft_edits_need_if_match_and_lose_to_a_newer_save(author, team):
    from constitutions import services as constitutions

    published = published_demo_version(team, author)
    draft, _ = constitutions.version_draft_from(version=published, user=author)
    _, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    read = client.get(f"{T}/versions/{draft.pk}")
    etag = read["ETag"]
    assert etag == f'"rv{draft.row_version}"'

    missing = _json(client, "patch", f"{T}/versions/{draft.pk}", {"changelog": "a"})
    assert missing.status_code == 428 and missing.json()["field"] == "If-Match"
    ok = _json(
        client, "patch", f"{T}/versions/{draft.pk}", {"changelog": "a"}, **{"If-Match": etag}
    )
    assert ok.status_code == 200 and ok["ETag"] != etag and ok.json()["changelog"] == "a"
    stale = _json(
        client, "patch", f"{T}/versions/{draft.pk}", {"changelog": "b"}, **{"If-Match": etag}
    )
    assert stale.status_code == 412 and stale["ETag"] == ok["ETag"]
    draft.refresh_from_db()
    assert draft.changelog == "a"

    principle = draft.principles.first()
    p_etag = f'"rv{principle.row_version}"'
    moved = _json(
        client, "patch", f"{T}/principles/{principle.pk}", {"weight": 3}, **{"If-Match": p_etag}
    )
    assert moved.status_code == 200 and moved.json()["weight"] == 3
    stale = _json(
        client, "patch", f"{T}/principles/{principle.pk}", {"weight": 4}, **{"If-Match": p_etag}
    )
    assert stale.status_code == 412


def test_a_published_version_cannot_be_edited(author, team):
    published = published_demo_version(team, author)
    _, raw = token_create(user=author, team=team, name="x")
    response = _json(
        ApiClient(raw),
        "patch",
        f"{T}/versions/{published.pk}",
        {"changelog": "x"},
        **{"If-Match": "*"},
    )
    assert response.status_code == 422 and "published" in response.json()["detail"].lower()


# --- idempotency and cursors -----------------------------------------------------------


@pytest.fixture
def run_body(team, author, tmp_path):
    version = published_demo_version(team, author)
    prompts = training.promptset_import(
        team=team, user=author, name="p", data=b"a\nb\nc\n", filename="p.txt", held_out_fraction=0
    )
    (tmp_path / "config.json").write_text("{}")
    model = training.model_register(team=team, user=author, name="m", path=str(tmp_path))
    return {
        "kind": "critique_revision",
        "inputs": {
            "version": version.pk,
            "prompt_set": prompts.pk,
            "model": model.name,
            "prompt_selection": "all",
        },
        "config": {"rounds": 1},
    }


def test_an_idempotency_key_starts_one_run_however_often_it_is_sent(author, team, run_body):
    _, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    key = {"Idempotency-Key": "nightly-2025-01-01"}
    first = _json(client, "post", f"{T}/runs", run_body, **key)
    assert first.status_code == 201, first.content
    again = _json(client, "post", f"{T}/runs", run_body, **key)
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and Run.objects.count() == 1
    other = _json(client, "post", f"{T}/runs", run_body | {"name": "other"}, **key)
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"
    assert Run.objects.count() == 1 and Run.objects.get().idempotency_key == key["Idempotency-Key"]
    assert _json(client, "post", f"{T}/runs", run_body).status_code == 201  # no key: a new run
    assert Run.objects.count() == 2


def test_api_and_launch_pages_share_one_key_per_team_and_an_empty_key_is_refused(
    author, team, run_body
):
    _, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    first = _json(client, "post", f"{T}/runs", run_body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.content
    run = Run.objects.get(pk=first.json()["id"])
    assert run.idempotency_key == "k-1" and len(run.idempotency_fingerprint) == 64
    # The service every launcher calls sees the key the API stored: one mechanism.
    inputs = {
        "version": run.constitution_version,
        "prompt_set": run.prompt_set,
        "model": run.model,
        "prompt_selection": "all",
    }
    again, replayed = training.run_start_once(
        kind="critique_revision",
        team=team,
        user=author,
        inputs=inputs,
        config={"rounds": 1},
        idempotency_key="k-1",
        enqueue=False,
    )
    assert replayed and again.pk == run.pk and Run.objects.count() == 1
    blank = _json(client, "post", f"{T}/runs", run_body, **{"Idempotency-Key": " "})
    assert blank.status_code == 422 and blank.json()["field"] == "Idempotency-Key"
    long = _json(client, "post", f"{T}/runs", run_body, **{"Idempotency-Key": "k" * 201})
    assert long.status_code == 422 and long.json()["field"] == "Idempotency-Key"
    assert Run.objects.count() == 1


def test_lists_page_with_cursors_to_the_end(author, team):
    lines = "\n".join(f"prompt {i}" for i in range(7)).encode()
    prompts = training.promptset_import(
        team=team, user=author, name="p", data=lines, filename="p.txt", held_out_fraction=0
    )
    _, raw = token_create(user=author, team=team, name="x")
    client = ApiClient(raw)
    url, seen = f"{T}/prompt-sets/{prompts.pk}/prompts?page_size=3", []
    while url:
        page = client.get(url).json()
        seen += [p["text"] for p in page["results"]]
        url = page["next"]
    assert seen == [f"prompt {i}" for i in range(7)]
    bad = client.get(f"{T}/prompt-sets/{prompts.pk}/prompts?cursor=%%%")
    assert bad.status_code == 422


def test_a_file_with_control_characters_is_refused_naming_the_file_not_a_500(author, team):
    """Found by the schemathesis run: the YAML reader refused the text before the parser's
    error handling (a 500 in the browser's import too)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, raw = token_create(user=author, team=team, name="x")
    response = ApiClient(raw).post(
        f"{T}/constitutions", {"files": [SimpleUploadedFile("c", b"+R\x1e\x18")]}
    )
    problem = response.json()
    assert response.status_code == 422, problem
    assert any("c: malformed YAML" in e["detail"] for e in problem["errors"]), problem
