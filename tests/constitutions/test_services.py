"""constitutions.services: the only way constitutions change."""

from __future__ import annotations

from dataclasses import replace

import pytest

from constitutions import selectors, services
from constitutions.content import (
    DEFAULT_CATEGORIES,
    DEMO_CONSTITUTION,
    ConstitutionContent,
    ContentError,
)
from constitutions.models import ChangeEvent, ConstitutionVersion, VersionStatus
from tests.factories import published_demo_version


def _content(version: ConstitutionVersion) -> ConstitutionContent:
    return selectors.version_content(selectors.version_with_content(version.pk))


def test_create_makes_a_v1_draft_with_the_given_content(team, author):
    version = services.constitution_create(
        team=team,
        user=author,
        name="House rules",
        description="ours",
        content=ConstitutionContent(categories=DEFAULT_CATEGORIES),
    )
    assert (version.number, version.status, version.author) == (1, VersionStatus.DRAFT, author)
    assert version.constitution.team == team and version.constitution.created_by == author
    assert [c.name for c in version.categories.all()] == [c.name for c in DEFAULT_CATEGORIES]
    assert ChangeEvent.objects.filter(constitution=version.constitution, action="create").exists()


def test_create_refuses_a_duplicate_name_in_the_same_team(team, author):
    services.constitution_create(team=team, user=author, name="Rules")
    with pytest.raises(services.ConstitutionError) as exc:
        services.constitution_create(team=team, user=author, name="Rules")
    assert exc.value.field == "name"


def test_draft_from_a_published_version_copies_its_content_with_a_parent_link_and_a_new_number(
    team, author
):
    published = published_demo_version(team, author)
    draft, created = services.version_draft_from(version=published, user=author)
    assert created and draft.status == VersionStatus.DRAFT
    assert (draft.number, draft.parent) == (2, published)
    assert _content(draft).content_hash() == published.content_hash
    # Copies, not shared rows: the draft's principles are new rows.
    assert not set(draft.principles.values_list("pk", flat=True)) & set(
        published.principles.values_list("pk", flat=True)
    )


def test_draft_from_a_draft_returns_the_draft_itself(team, author):
    version = services.constitution_create(team=team, user=author, name="Rules")
    assert services.version_draft_from(version=version, user=author) == (version, False)


def test_publish_lists_every_problem_in_one_summary(team, author):
    version = services.constitution_create(
        team=team,
        user=author,
        name="Rules",
        content=ConstitutionContent(categories=DEFAULT_CATEGORIES),
    )
    with pytest.raises(ContentError) as exc:
        services.version_publish(version=version, user=author)
    assert any("at least one principle" in p for p in exc.value.problems)

    category = version.categories.first()
    for key in ("a", "b"):
        services.principle_add(
            version=version,
            user=author,
            category=category,
            key=key,
            critique_request="c",
            revision_request="r",
            comparison_question="",
            enabled=False,
        )
    with pytest.raises(ContentError) as exc:
        services.version_publish(version=version, user=author)
    assert exc.value.problems == [
        "no principle can be drawn for AI labelling: every principle is disabled or has weight 0"
    ]
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT


def test_principles_without_a_comparison_question_or_without_requests_publish(team, author):
    """Critique-revision-only and labeller-only principles are both principles."""
    version = services.constitution_create(
        team=team,
        user=author,
        name="Rules",
        content=ConstitutionContent(categories=DEFAULT_CATEGORIES),
    )
    category = version.categories.first()
    services.principle_add(
        version=version,
        user=author,
        category=category,
        key="sl-only",
        critique_request="c",
        revision_request="r",
    )
    services.principle_add(
        version=version, user=author, category=category, key="judge-only", comparison_question="q"
    )
    published = services.version_publish(version=version, user=author)
    assert published.status == VersionStatus.PUBLISHED
    roles = {p.key: p.role for p in _content(published).principles}
    assert roles == {"sl-only": "critique-revision only", "judge-only": "labeller only"}


@pytest.mark.parametrize(
    ("texts", "field"),
    [
        ({}, "critique_request"),
        ({"critique_request": "c"}, "revision_request"),
        ({"revision_request": "r", "comparison_question": "q"}, "critique_request"),
        ({"critique_request": "  ", "revision_request": "\n"}, "critique_request"),
    ],
)
def test_a_principle_with_no_use_or_half_a_request_pair_is_refused(team, author, texts, field):
    version = services.constitution_create(
        team=team,
        user=author,
        name="Rules",
        content=ConstitutionContent(categories=DEFAULT_CATEGORIES),
    )
    with pytest.raises(services.ConstitutionError) as exc:
        services.principle_add(
            version=version, user=author, category=version.categories.first(), key="p", **texts
        )
    assert exc.value.field == field
    assert not version.principles.exists()


def test_an_edit_that_empties_one_request_is_refused_and_changes_nothing(team, author):
    version = services.constitution_create(
        team=team, user=author, name="Demo", content=DEMO_CONSTITUTION
    )
    principle = version.principles.get(key="honesty")
    with pytest.raises(services.ConstitutionError) as exc:
        services.principle_update(
            principle=principle,
            user=author,
            expected_row_version=principle.row_version,
            revision_request="",
        )
    assert exc.value.field == "revision_request"
    principle.refresh_from_db()
    assert principle.revision_request
    # Both requests emptied at once leaves a labeller-only principle: allowed.
    services.principle_update(
        principle=principle,
        user=author,
        expected_row_version=principle.row_version,
        critique_request="",
        revision_request="",
    )
    principle.refresh_from_db()
    assert (principle.critique_request, principle.revision_request) == ("", "")
    assert principle.comparison_question


def test_publish_sets_the_hash_to_the_content_hash_and_freezes_the_version(team, author):
    version = services.constitution_create(
        team=team, user=author, name="Demo", content=DEMO_CONSTITUTION
    )
    expected = _content(version).content_hash()
    published = services.version_publish(version=version, user=author, changelog="first")
    assert published.status == VersionStatus.PUBLISHED
    assert published.content_hash == expected == DEMO_CONSTITUTION.content_hash()
    assert published.changelog == "first" and published.published_at is not None
    with pytest.raises(services.VersionImmutable):
        services.principle_update(
            principle=(principle := published.principles.first()),
            user=author,
            expected_row_version=principle.row_version,
            weight=5,
        )


def test_import_as_a_new_constitution_creates_a_v1_draft(team, author):
    version = services.constitution_import(
        team=team, user=author, name="Imported", description="from file", content=DEMO_CONSTITUTION
    )
    assert version.number == 1 and version.constitution.name == "Imported"
    assert _content(version).content_hash() == DEMO_CONSTITUTION.content_hash()


def test_import_into_an_existing_constitution_creates_its_next_draft(team, author):
    published = published_demo_version(team, author)
    changed = replace(DEMO_CONSTITUTION, principles=DEMO_CONSTITUTION.principles[:3])
    version = services.constitution_import(
        team=team,
        user=author,
        name="ignored",
        description="",
        content=changed,
        into=published.constitution,
    )
    assert version.constitution == published.constitution
    assert (version.number, version.parent, version.status) == (2, published, VersionStatus.DRAFT)
    assert _content(version).content_hash() == changed.content_hash()


def test_a_stale_row_version_raises_edit_conflict_and_writes_nothing(team, author):
    version = services.constitution_create(
        team=team, user=author, name="Demo", content=DEMO_CONSTITUTION
    )
    principle = version.principles.get(key="honesty")
    services.principle_update(principle=principle, user=author, expected_row_version=1, weight=2)
    stale = version.principles.get(key="honesty")
    stale.row_version = 1
    with pytest.raises(services.EditConflict) as exc:
        services.principle_update(principle=stale, user=author, expected_row_version=1, weight=9)
    assert exc.value.current.weight == 2
    assert version.principles.get(key="honesty").weight == 2
