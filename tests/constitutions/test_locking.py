"""Optimistic locking is required on every edit and delete of a draft (issue 12): a request
without row_version is refused with 400 and writes nothing, a stale one gets 409, and
"Edit" on a published version returns the draft already copied from it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from constitutions import services
from constitutions.content import DEMO_CONSTITUTION
from constitutions.models import (
    Category,
    ChangeEvent,
    ConstitutionVersion,
    FewShotExample,
    Principle,
)

pytestmark = pytest.mark.django_db

MISSING = "row_version is missing"


@pytest.fixture
def draft(team, author):
    return services.constitution_create(
        team=team, user=author, name="Locked", content=DEMO_CONSTITUTION
    )


@pytest.fixture
def editor(client_for, author):
    return client_for(author)


def _snapshot(version):
    return (
        list(Category.objects.filter(version=version).values()),
        list(Principle.objects.filter(version=version).values()),
        list(FewShotExample.objects.filter(version=version).values()),
        ChangeEvent.objects.count(),
        ConstitutionVersion.objects.filter(pk=version.pk).values().first(),
    )


def _requests(draft):
    category = draft.categories.first()
    principle = draft.principles.first()
    few_shot = draft.few_shots.first()
    few_shot_fields = {f: "new text" for f in services.FEW_SHOT_FIELDS}
    return {
        "category_update": (reverse("category_update", args=[category.pk]), {"weight": "7"}),
        "category_update full": (
            reverse("category_update", args=[category.pk]),
            {"name": "Renamed", "weight": "7", "priority": "3", "description": ""},
        ),
        "category_delete": (reverse("category_delete", args=[category.pk]), {}),
        "principle_update": (reverse("principle_update", args=[principle.pk]), {"weight": "7"}),
        "principle_delete": (reverse("principle_delete", args=[principle.pk]), {}),
        "principle_move": (reverse("principle_move", args=[principle.pk]), {"direction": "down"}),
        "few_shot_update": (reverse("few_shot_update", args=[few_shot.pk]), few_shot_fields),
        "few_shot_delete": (reverse("few_shot_delete", args=[few_shot.pk]), {}),
        "version_discard": (reverse("version_discard", args=[draft.pk]), {}),
    }


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(
    "name",
    [
        "category_update",
        "category_update full",
        "category_delete",
        "principle_update",
        "principle_delete",
        "principle_move",
        "few_shot_update",
        "few_shot_delete",
        "version_discard",
    ],
)
def test_an_edit_or_delete_without_row_version_is_a_400_that_writes_nothing(
    draft, editor, name, htmx
):
    url, data = _requests(draft)[name]
    before = _snapshot(draft)
    headers = {"HX-Request": "true"} if htmx else {}
    response = editor.post(url, data, headers=headers)
    assert response.status_code == 400, response.content[:300]
    assert MISSING in response.content.decode().replace("&#x27;", "'")
    assert _snapshot(draft) == before


@pytest.mark.parametrize("value", ["", "abc", "-1", str(2**63), "1e3"])
def test_a_malformed_row_version_is_refused_the_same_way(draft, editor, value):
    principle = draft.principles.first()
    before = _snapshot(draft)
    response = editor.post(reverse("principle_delete", args=[principle.pk]), {"row_version": value})
    assert response.status_code in (400, 409)
    assert _snapshot(draft) == before


def test_a_stale_row_version_is_a_conflict_and_the_newer_save_survives(draft, editor):
    principle = draft.principles.first()
    stale = principle.row_version
    services.principle_update(principle=principle, user=None, expected_row_version=stale, weight=3)
    for url, data in [
        (reverse("principle_update", args=[principle.pk]), {"weight": "9"}),
        (reverse("principle_delete", args=[principle.pk]), {}),
        (reverse("principle_move", args=[principle.pk]), {"direction": "down"}),
    ]:
        response = editor.post(url, {**data, "row_version": stale})
        assert response.status_code == 409, url
    principle.refresh_from_db()
    assert principle.weight == 3


def test_the_services_require_a_row_version(draft, author):
    principle = draft.principles.first()
    with pytest.raises(services.RowVersionMissing):
        services.principle_update(
            principle=principle, user=author, expected_row_version=None, weight=2
        )
    with pytest.raises(services.RowVersionMissing):
        services.few_shot_delete(
            example=draft.few_shots.first(), user=author, expected_row_version=None
        )
    with pytest.raises(services.RowVersionMissing):
        services.version_discard(version=draft, user=author, expected_row_version=None)


def test_edit_on_a_published_version_returns_its_existing_draft(draft, author, editor):
    published = services.version_publish(version=draft, user=author, changelog="v1")
    url = reverse("version_edit", args=[published.pk])
    first = editor.post(url)
    for _ in range(4):
        again = editor.post(url)
        assert again["Location"] == first["Location"]
    constitution = published.constitution
    assert list(constitution.versions.order_by("number").values_list("number", "status")) == [
        (1, "published"),
        (2, "draft"),
    ]
    # Once that draft is published, Edit on v1 starts a new one.
    v2 = constitution.versions.get(number=2)
    services.version_publish(version=v2, user=author, changelog="v2")
    editor.post(url)
    assert constitution.versions.filter(status="draft").count() == 1
    assert constitution.versions.get(status="draft").number == 3
