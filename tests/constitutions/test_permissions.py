"""The permission matrix: every URL of cai_web and constitutions, tried by every member of the cast.

Anonymous visitors are sent to the login page; outsiders (members of another team)
get 404 for anything of this team; viewers and auditors may read but get 403 on
constitution writes; authors and owners may write; only owners manage members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cai_web.models import Membership
from constitutions import services
from constitutions.content import DEMO_CONSTITUTION
from constitutions.formats import export_json
from tests.factories import published_demo_version

CAST = ("anonymous", "outsider", "viewer", "auditor", "author", "owner")


def expect(anonymous, outsider, viewer, auditor, author, owner) -> dict[str, int]:
    return dict(zip(CAST, (anonymous, outsider, viewer, auditor, author, owner), strict=True))


#                   anonymous outsider viewer auditor author owner
OPEN = expect(200, 200, 200, 200, 200, 200)
EVERYONE_REDIRECTED = expect(302, 302, 302, 302, 302, 302)
READ = expect(302, 404, 200, 200, 200, 200)
READ_REDIRECT = expect(302, 404, 302, 302, 302, 302)
WRITE = expect(302, 404, 403, 403, 302, 302)
WRITE_FORM = expect(302, 404, 403, 403, 200, 200)
OWNER_ONLY = expect(302, 404, 403, 403, 403, 302)
STAFF_ONLY = expect(302, 302, 302, 302, 302, 302)  # the admin sends non-staff to its login


@dataclass(frozen=True)
class Case:
    name: str  # the URL name
    method: str
    url: Callable[[dict], str]
    expected: dict[str, int]
    data: Callable[[dict], dict[str, Any]] = lambda w: {}
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.label or self.name}"


def _rv(key: str, **data: str):
    """An edit or delete of ``world[key]`` carries its row_version (required)."""
    return lambda w: {**data, "row_version": str(w[key].row_version)}


def _principle_data(w):
    return {
        "key": "new-one",
        "category": w["category"].pk,
        "critique_request": "c",
        "revision_request": "r",
        "comparison_question": "q",
        "weight": "1",
        "enabled": "on",
    }


def _few_shot_data(w):
    return {f: "text" for f in services.FEW_SHOT_FIELDS}


def _import_data(w):
    text = export_json(DEMO_CONSTITUTION, name="Imported")
    return {"files": [SimpleUploadedFile("c.json", text.encode())], "name": "Imported"}


CASES = [
    # cai_web
    Case("healthz", "get", lambda w: reverse("healthz"), OPEN),
    Case("login", "get", lambda w: reverse("login"), OPEN),
    Case("logout", "post", lambda w: reverse("logout"), EVERYONE_REDIRECTED),
    Case("admin", "get", lambda w: reverse("admin:index"), STAFF_ONLY, label="admin:index"),
    Case(
        "home", "get", lambda w: reverse("home"), EVERYONE_REDIRECTED
    ),  # one team each: straight to it
    Case(
        "team_create",
        "post",
        lambda w: reverse("team_create"),
        EVERYONE_REDIRECTED,
        lambda w: {"name": "New team"},
    ),
    Case("team_dashboard", "get", lambda w: reverse("team_dashboard", args=[w["slug"]]), READ),
    Case("team_members", "get", lambda w: reverse("team_members", args=[w["slug"]]), READ),
    Case(
        "team_members",
        "post",
        lambda w: reverse("team_members", args=[w["slug"]]),
        OWNER_ONLY,
        lambda w: {"username": "newbie", "role": "viewer"},
    ),
    Case(
        "member_update",
        "post",
        lambda w: reverse("member_update", args=[w["slug"], w["viewer_membership"].pk]),
        OWNER_ONLY,
        lambda w: {"action": "role", "role": "author"},
    ),
    # constitutions
    Case(
        "constitution_list", "get", lambda w: reverse("constitution_list", args=[w["slug"]]), READ
    ),
    Case(
        "constitution_list",
        "post",
        lambda w: reverse("constitution_list", args=[w["slug"]]),
        WRITE,
        lambda w: {"name": "Brand new"},
    ),
    Case(
        "constitution_import",
        "get",
        lambda w: reverse("constitution_import", args=[w["slug"]]),
        WRITE_FORM,
    ),
    Case(
        "constitution_import",
        "post",
        lambda w: reverse("constitution_import", args=[w["slug"]]),
        WRITE,
        _import_data,
    ),
    Case(
        "constitution_detail",
        "get",
        lambda w: reverse("constitution_detail", args=[w["constitution"].pk]),
        READ_REDIRECT,
    ),
    Case(
        "constitution_history",
        "get",
        lambda w: reverse("constitution_history", args=[w["constitution"].pk]),
        READ,
    ),
    Case(
        "constitution_diff",
        "get",
        lambda w: reverse("constitution_diff", args=[w["constitution"].pk]) + "?a=1&b=2",
        READ,
    ),
    Case("version_detail", "get", lambda w: reverse("version_detail", args=[w["draft"].pk]), READ),
    Case(
        "version_probabilities",
        "get",
        lambda w: reverse("version_probabilities", args=[w["draft"].pk]),
        READ,
    ),
    Case(
        "version_export",
        "get",
        lambda w: reverse("version_export", args=[w["published"].pk, "json"]),
        READ,
        label="version_export.json",
    ),
    Case(
        "version_export",
        "get",
        lambda w: reverse("version_export", args=[w["published"].pk, "yaml"]),
        READ,
        label="version_export.yaml",
    ),
    Case(
        "version_edit", "post", lambda w: reverse("version_edit", args=[w["published"].pk]), WRITE
    ),
    Case(
        "version_publish",
        "post",
        lambda w: reverse("version_publish", args=[w["draft"].pk]),
        WRITE,
        lambda w: {"changelog": "ok"},
    ),
    Case(
        "version_archive",
        "post",
        lambda w: reverse("version_archive", args=[w["published"].pk]),
        WRITE,
    ),
    Case(
        "version_discard",
        "post",
        lambda w: reverse("version_discard", args=[w["draft"].pk]),
        WRITE,
        _rv("draft"),
    ),
    Case(
        "category_add",
        "post",
        lambda w: reverse("category_add", args=[w["draft"].pk]),
        WRITE,
        lambda w: {"name": "Another", "weight": "1", "priority": "5"},
    ),
    Case(
        "category_update",
        "get",
        lambda w: reverse("category_update", args=[w["category"].pk]),
        WRITE_FORM,
    ),
    Case(
        "category_update",
        "post",
        lambda w: reverse("category_update", args=[w["category"].pk]),
        WRITE,
        _rv("category", weight="2"),
    ),
    Case(
        "category_delete",
        "post",
        lambda w: reverse("category_delete", args=[w["empty_category"].pk]),
        WRITE,
        _rv("empty_category"),
    ),
    Case(
        "principle_add",
        "post",
        lambda w: reverse("principle_add", args=[w["draft"].pk]),
        WRITE,
        _principle_data,
    ),
    Case(
        "principle_update",
        "get",
        lambda w: reverse("principle_update", args=[w["principle"].pk]),
        WRITE_FORM,
    ),
    Case(
        "principle_update",
        "post",
        lambda w: reverse("principle_update", args=[w["principle"].pk]),
        WRITE,
        _rv("principle", weight="2"),
    ),
    Case(
        "principle_delete",
        "post",
        lambda w: reverse("principle_delete", args=[w["principle"].pk]),
        WRITE,
        _rv("principle"),
    ),
    Case(
        "principle_move",
        "post",
        lambda w: reverse("principle_move", args=[w["principle"].pk]),
        WRITE,
        _rv("principle", direction="down"),
    ),
    Case(
        "few_shot_add",
        "post",
        lambda w: reverse("few_shot_add", args=[w["draft"].pk]),
        WRITE,
        _few_shot_data,
    ),
    Case(
        "few_shot_update",
        "get",
        lambda w: reverse("few_shot_update", args=[w["few_shot"].pk]),
        WRITE_FORM,
    ),
    Case(
        "few_shot_update",
        "post",
        lambda w: reverse("few_shot_update", args=[w["few_shot"].pk]),
        WRITE,
        lambda w: {**_few_shot_data(w), **_rv("few_shot")(w)},
    ),
    Case(
        "few_shot_delete",
        "post",
        lambda w: reverse("few_shot_delete", args=[w["few_shot"].pk]),
        WRITE,
        _rv("few_shot"),
    ),
]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """240 cases each create the cast; a fast hasher is a speed-only knob."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(cast, team, django_user_model):
    """Published v1 and draft v2 of one constitution, with something of every kind to act on."""
    published = published_demo_version(team, cast["author"])
    draft, _ = services.version_draft_from(version=published, user=cast["author"])
    empty = services.category_add(version=draft, user=cast["author"], name="Empty")
    django_user_model.objects.create_user(username="newbie", password="x-long-password-1")
    return {
        **cast,
        "slug": team.slug,
        "constitution": published.constitution,
        "published": published,
        "draft": draft,
        "category": draft.categories.get(name="Broadly ethical"),
        "empty_category": empty,
        "principle": draft.principles.get(key="honesty"),
        "few_shot": draft.few_shots.first(),
        "viewer_membership": Membership.objects.get(team=team, user=cast["viewer"]),
    }


@pytest.mark.parametrize("role", CAST)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_url_answers_each_member_of_the_cast_as_the_matrix_says(
    client_for, world, case, role
):
    client = client_for(None if role == "anonymous" else world[role])
    response = getattr(client, case.method)(case.url(world), case.data(world))
    expected = case.expected[role]
    assert response.status_code == expected, (case.id, role, response.content.decode()[:500])
    if role == "anonymous" and expected == 302:
        # The admin has its own login page (LoginRequiredMiddleware honours it).
        assert response["Location"].startswith(("/accounts/login/", "/admin/login/"))


# The check that every URL name is tried lives in tests/test_url_coverage.py (all apps).
