"""A published version cannot change: not through the screens, not through the admin,
not through the ORM, not through raw SQL (the triggers of migration 0002 are the last line)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from constitutions.models import Category, ConstitutionVersion, FewShotExample, Principle
from tests.factories import published_demo_version


@pytest.fixture
def published(team, author) -> ConstitutionVersion:
    return published_demo_version(team, author)


def _snapshot(version: ConstitutionVersion) -> list:
    return [
        list(Principle.objects.filter(version=version).order_by("pk").values()),
        list(Category.objects.filter(version=version).order_by("pk").values()),
        list(FewShotExample.objects.filter(version=version).order_by("pk").values()),
        ConstitutionVersion.objects.filter(pk=version.pk).values().get(),
    ]


def test_orm_update_of_a_published_principle_raises_integrity_error(published):
    with pytest.raises(IntegrityError), transaction.atomic():
        Principle.objects.filter(version=published).update(weight=42)
    assert not Principle.objects.filter(weight=42).exists()


def test_orm_delete_of_a_published_versions_rows_raises_integrity_error(published):
    before = _snapshot(published)
    for qs in (
        Principle.objects.filter(version=published),
        FewShotExample.objects.filter(version=published),
        ConstitutionVersion.objects.filter(pk=published.pk),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            qs.delete()
    assert _snapshot(published) == before


def test_orm_update_of_a_published_versions_hash_or_status_raises_integrity_error(published):
    for changes in ({"content_hash": "0" * 64}, {"status": "draft"}, {"changelog": "rewritten"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ConstitutionVersion.objects.filter(pk=published.pk).update(**changes)
    published.refresh_from_db()
    assert published.status == "published" and published.changelog == "demo"


def test_raw_sql_update_of_a_published_principle_raises_integrity_error(published):
    principle = published.principles.first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE constitutions_principle SET critique_request = %s WHERE id = %s",
            ["Anything goes.", principle.pk],
        )
    principle.refresh_from_db()
    assert principle.critique_request != "Anything goes."


def test_raw_sql_insert_into_a_published_version_raises_integrity_error(published):
    category = published.categories.first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO constitutions_category (version_id, name, description, weight, priority, "
            "\"order\", row_version) VALUES (%s, 'Sneaky', '', 1.0, 1, 99, 1)",
            [published.pk],
        )
    assert not Category.objects.filter(name="Sneaky").exists()
    assert category.version_id == published.pk


def test_archiving_a_published_version_is_allowed(published, author):
    from constitutions import services

    services.version_archive(version=published, user=author)
    published.refresh_from_db()
    assert published.status == "archived"


@pytest.fixture
def admin_client_(db, django_user_model):
    from django.test import Client

    staff = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345-long")
    client = Client()
    client.force_login(staff)
    return client


def test_the_admin_shows_a_published_version_read_only(admin_client_, published):
    response = admin_client_.get(
        reverse("admin:constitutions_constitutionversion_change", args=[published.pk])
    )
    assert response.status_code == 200
    assert b'name="_save"' not in response.content


def test_a_superuser_posting_the_admin_form_of_a_published_version_changes_nothing(
    admin_client_, published
):
    before = _snapshot(published)
    principle = published.principles.first()
    response = admin_client_.post(
        reverse("admin:constitutions_constitutionversion_change", args=[published.pk]),
        {
            "constitution": published.constitution_id,
            "number": 9,
            "changelog": "rewritten",
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    response = admin_client_.post(
        reverse("admin:constitutions_principle_change", args=[principle.pk]),
        {
            "version": published.pk,
            "category": principle.category_id,
            "key": principle.key,
            "critique_request": "Anything goes.",
            "revision_request": "x",
            "comparison_question": "",
            "weight": "42",
            "enabled": "on",
            "order": 0,
            "row_version": 1,
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    response = admin_client_.post(
        reverse("admin:constitutions_constitutionversion_delete", args=[published.pk]),
        {"post": "yes"},
    )
    assert response.status_code == 403
    assert _snapshot(published) == before


def test_an_author_posting_an_edit_to_a_published_principle_is_refused(
    client_for, author, published
):
    principle = published.principles.get(key="honesty")
    before = _snapshot(published)
    client = client_for(author)
    response = client.post(
        reverse("principle_update", args=[principle.pk]),
        {
            "key": "honesty",
            "category": principle.category_id,
            "critique_request": "Anything goes.",
            "revision_request": "x",
            "weight": "9",
            "enabled": "on",
            "row_version": principle.row_version,
        },
    )
    assert response.status_code == 409
    assert "cannot change" in response.content.decode()
    for url, data in (
        (reverse("principle_update", args=[principle.pk]), {"weight": "9"}),
        (reverse("principle_delete", args=[principle.pk]), {}),
        (reverse("principle_move", args=[principle.pk]), {"direction": "up"}),
        (reverse("category_update", args=[principle.category_id]), {"weight": "9"}),
        (
            reverse("principle_add", args=[published.pk]),
            {
                "key": "new",
                "category": principle.category_id,
                "critique_request": "c",
                "revision_request": "r",
                "weight": "1",
            },
        ),
        (reverse("version_discard", args=[published.pk]), {}),
    ):
        response = client.post(url, data)
        assert response.status_code in (302, 409), url
        if response.status_code == 302:
            follow = client.get(response["Location"])
            assert "cannot" in follow.content.decode() or "Only" in follow.content.decode(), url
    assert _snapshot(published) == before
