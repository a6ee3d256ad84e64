"""Tests for constitutions.content: dataclasses, validation, canonical form and hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from constitutions.content import (
    DEFAULT_CATEGORIES,
    DEFAULT_COMPARISON_QUESTION,
    DEMO_CONSTITUTION,
    MAX_TEXT,
    SCHEMA_VERSION,
    CategorySpec,
    ConstitutionContent,
    ContentError,
    FewShotSpec,
    PrincipleSpec,
    content_from_dict,
    validate_content,
)


def small(**principle_overrides: object) -> ConstitutionContent:
    """A one-category, two-principle constitution; overrides apply to the second principle."""
    second = dict(
        key="harm-1",
        category="Safety",
        critique_request="Say how the reply could hurt someone.",
        revision_request="Rewrite it so it cannot.",
    )
    second.update(principle_overrides)
    return ConstitutionContent(
        categories=(CategorySpec("Safety", weight=2),),
        principles=(
            PrincipleSpec("harm-0", "Safety", "Critique zero.", "Revise zero."),
            PrincipleSpec(**second),  # type: ignore[arg-type]
        ),
    )


def test_the_default_categories_are_ranked_safe_ethical_guidelines_helpful() -> None:
    assert [(c.name, c.priority) for c in DEFAULT_CATEGORIES] == [
        ("Broadly safe", 1),
        ("Broadly ethical", 2),
        ("Guidelines", 3),
        ("Genuinely helpful", 4),
    ]
    assert all(c.description for c in DEFAULT_CATEGORIES)
    assert DEFAULT_COMPARISON_QUESTION.endswith("?")


def test_the_demo_constitution_is_valid_and_covers_every_default_category() -> None:
    assert validate_content(DEMO_CONSTITUTION) == []
    used = {p.category for p in DEMO_CONSTITUTION.principles}
    assert used == {c.name for c in DEFAULT_CATEGORIES}
    assert len(DEMO_CONSTITUTION.principles) == 8
    assert all(p.comparison_question.endswith("?") for p in DEMO_CONSTITUTION.principles)
    assert 1 <= len(DEMO_CONSTITUTION.few_shots) <= 2
    assert [c.weight for c in DEMO_CONSTITUTION.categories] == [3.0, 2.0, 1.0, 2.0]


def test_to_dict_is_canonical_with_float_weights_and_no_ids() -> None:
    content = small(id=42, weight=3)
    d = content.to_dict()
    assert list(d) == ["schema_version", "categories", "principles", "few_shots"]
    assert d["schema_version"] == SCHEMA_VERSION == 2
    # The hash keeps format 1's schema_version, so content format 1 could hold hashes as before.
    assert '"schema_version":1' in content.canonical_json()
    assert d["categories"] == [
        {"name": "Safety", "description": "", "weight": 2.0, "priority": 100}
    ]
    assert isinstance(d["principles"][1]["weight"], float)
    assert d["principles"][1]["weight"] == 3.0
    assert all("id" not in p for p in d["principles"])
    assert d["principles"][0]["enabled"] is True


def test_canonical_json_sorts_keys_keeps_unicode_and_has_no_spaces() -> None:
    content = small(critique_request="Est-ce que la réponse blesse quelqu'un ? 🙂")
    text = content.canonical_json()
    assert "réponse" in text and "🙂" in text
    assert ", " not in text.replace("quelqu'un ? ", "") and '": ' not in text
    assert text == json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_content_hash_is_sha256_of_the_canonical_json() -> None:
    content = small()
    expected = hashlib.sha256(content.canonical_json().encode("utf-8")).hexdigest()
    assert content.content_hash() == expected
    assert content.short_hash == expected[:12]


def test_the_hash_ignores_database_ids_and_int_versus_float_weights() -> None:
    assert small(id=7).content_hash() == small(id=None).content_hash()
    assert small(weight=2).content_hash() == small(weight=2.0).content_hash()


def test_the_hash_changes_with_text_weight_order_and_enabled() -> None:
    base = small().content_hash()
    assert small(revision_request="Rewrite it differently.").content_hash() != base
    assert small(weight=1.5).content_hash() != base
    assert small(enabled=False).content_hash() != base
    reordered = dataclasses.replace(small(), principles=tuple(reversed(small().principles)))
    assert reordered.content_hash() != base


def test_lists_are_stored_as_tuples_so_content_stays_hashable() -> None:
    content = ConstitutionContent(categories=[CategorySpec("A")], principles=[])  # type: ignore[arg-type]
    assert content.categories == (CategorySpec("A"),)
    assert hash(content) == hash(ConstitutionContent(categories=(CategorySpec("A"),)))


def test_from_dict_round_trips_the_demo_constitution() -> None:
    again = content_from_dict(DEMO_CONSTITUTION.to_dict())
    assert again == DEMO_CONSTITUTION
    assert again.content_hash() == DEMO_CONSTITUTION.content_hash()


def test_from_dict_lists_every_problem_at_once() -> None:
    d = DEMO_CONSTITUTION.to_dict()
    d["categories"][0]["weight"] = "heavy"
    d["principles"][2]["weight"] = float("nan")
    del d["principles"][3]["critique_request"]
    d["principles"][4]["colour"] = "blue"
    d["few_shots"][0]["revision"] = ""
    d["extra"] = 1
    with pytest.raises(ContentError) as info:
        content_from_dict(d)
    problems = info.value.problems
    assert "categories[0].weight (Broadly safe): must be a number, got str" in problems
    assert "principles[2].weight (honesty): must be finite and >= 0, got nan" in problems
    assert (
        "principles[3].critique_request (fairness): must not be empty when there is a revision "
        "request (give both requests, or neither for a labeller-only principle)"
    ) in problems
    assert any(
        p.startswith("principles[4] (no-manipulation): unknown field 'colour'") for p in problems
    )
    assert "few_shots[0].revision: must not be empty" in problems
    assert any(p.startswith("extra: unknown field") for p in problems)
    # the missing text is reported once, not again as "must not be empty"
    assert sum(p.startswith("principles[3].critique_request") for p in problems) == 1
    assert len(problems) == 6
    message = str(info.value)
    assert message.startswith("invalid constitution content (6 problems):")
    assert all(p in message for p in problems)


def test_from_dict_refuses_non_objects_and_unknown_schema_versions() -> None:
    with pytest.raises(ContentError, match="must be an object, got list"):
        content_from_dict([])
    with pytest.raises(
        ContentError, match=r"unsupported schema version 3 \(this program reads versions 1, 2\)"
    ):
        content_from_dict({"schema_version": 3})
    with pytest.raises(ContentError, match="schema_version: required field is missing"):
        content_from_dict({"categories": []})
    with pytest.raises(ContentError, match=r"principles\[0\].enabled \(a\): must be true or false"):
        content_from_dict(
            {
                "schema_version": 1,
                "categories": [{"name": "A"}],
                "principles": [
                    {
                        "key": "a",
                        "category": "A",
                        "critique_request": "c",
                        "revision_request": "r",
                        "enabled": "yes",
                    }
                ],
            }
        )


@pytest.mark.parametrize(
    ("weight", "shown"),
    [(float("nan"), "nan"), (float("inf"), "inf"), (-0.5, "-0.5"), (float("-inf"), "-inf")],
)
def test_bad_weights_are_named_with_their_field_path(weight: float, shown: str) -> None:
    problems = validate_content(small(weight=weight))
    assert problems == [f"principles[1].weight (harm-1): must be finite and >= 0, got {shown}"]


def test_a_bad_category_weight_is_named_with_the_category() -> None:
    content = dataclasses.replace(small(), categories=(CategorySpec("Safety", weight=-1),))
    assert validate_content(content) == [
        "categories[0].weight (Safety): must be finite and >= 0, got -1"
    ]


def test_zero_weights_are_valid() -> None:
    content = dataclasses.replace(small(weight=0), categories=(CategorySpec("Safety", weight=0),))
    assert validate_content(content) == []


def test_duplicate_names_and_keys_are_reported_with_the_first_use() -> None:
    content = ConstitutionContent(
        categories=(CategorySpec("A"), CategorySpec("A")),
        principles=(
            PrincipleSpec("same", "A", "c", "r"),
            PrincipleSpec("same", "A", "c", "r"),
        ),
    )
    assert validate_content(content) == [
        "categories[1].name (A): duplicate category name; first used by categories[0]",
        "principles[1].key (same): duplicate principle key; first used by principles[0]",
    ]


@pytest.mark.parametrize("key", ["Harm", "has space", "x" * 65, "ünï", "a.b"])
def test_keys_must_be_lowercase_slugs(key: str) -> None:
    problems = validate_content(small(key=key))
    assert len(problems) == 1 and "must be a lowercase slug" in problems[0]


def test_empty_keys_names_and_unknown_categories_are_reported() -> None:
    content = ConstitutionContent(
        categories=(CategorySpec("  "),),
        principles=(PrincipleSpec("", "Nowhere", "c", "r"),),
    )
    assert validate_content(content) == [
        "categories[0].name: must not be empty",
        "principles[0].key: must not be empty",
        "principles[0].category: unknown category 'Nowhere'",
    ]


def test_texts_must_be_non_empty_and_at_most_max_text() -> None:
    problems = validate_content(
        small(critique_request="   ", revision_request="r" * (MAX_TEXT + 1))
    )
    assert problems == [
        "principles[1].revision_request (harm-1): must be at most 10,000 characters, got 10,001",
        "principles[1].critique_request (harm-1): must not be empty when there is a revision "
        "request (give both requests, or neither for a labeller-only principle)",
    ]
    assert validate_content(small(revision_request="r" * MAX_TEXT)) == []
    assert validate_content(small(comparison_question="q" * (MAX_TEXT + 1))) == [
        "principles[1].comparison_question (harm-1): must be at most 10,000 characters, got 10,001"
    ]


def test_few_shot_texts_are_checked_like_principle_texts() -> None:
    shot = FewShotSpec("p", "r", "cr", "", "rr", "x" * (MAX_TEXT + 1))
    content = dataclasses.replace(small(), few_shots=(shot,))
    assert validate_content(content) == [
        "few_shots[0].critique: must not be empty",
        "few_shots[0].revision: must be at most 10,000 characters, got 10,001",
    ]


def test_principle_looks_up_by_key() -> None:
    assert DEMO_CONSTITUTION.principle("honesty").category == "Broadly ethical"
    with pytest.raises(KeyError, match="no principle with key 'missing'"):
        DEMO_CONSTITUTION.principle("missing")


def test_content_error_accepts_one_message_or_many() -> None:
    assert str(ContentError("no principle can be drawn: x")) == "no principle can be drawn: x"
    error = ContentError(["a", "b"])
    assert error.problems == ["a", "b"]
    assert str(error) == "invalid constitution content (2 problems):\n- a\n- b"
    assert isinstance(error, ValueError)
