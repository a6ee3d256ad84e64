"""The content limits: one definition (constitutions/content/limits.py) that the model
columns, the forms, the import, the services and the committed JSON schema all follow,
and every violation refused with the field named (400 for a file whose contents break a
limit, 422 for a form field to correct), never a 500."""

from __future__ import annotations

import html as html_lib
import io
import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.backends.base.operations import BaseDatabaseOperations
from django.urls import reverse

from cai_web.errors import DomainError, ProblemsError
from constitutions import forms, services
from constitutions.content import (
    LIMITS,
    CategorySpec,
    ConstitutionContent,
    ContentError,
    PrincipleSpec,
)
from constitutions.formats import SCHEMA_PATH, FormatError, import_constitution
from constitutions.formats.schema import constitution_schema, schema_text, schema_validator
from constitutions.models import Category, Constitution, ConstitutionVersion, Principle

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def authoring(client_for, author):
    return client_for(author)


@pytest.fixture
def draft(team, author) -> ConstitutionVersion:
    return services.constitution_create(
        team=team, user=author, name="Small", content=_content("Safe")
    )


def _content(category: str) -> ConstitutionContent:
    return ConstitutionContent(
        categories=(CategorySpec(category, "about it", weight=1.0, priority=1),),
        principles=(
            PrincipleSpec(
                key="harm",
                category=category,
                critique_request="Critique the reply.",
                revision_request="Revise the reply.",
                comparison_question="Which reply is safer?",
            ),
        ),
    )


def _export(*, category: str = "Safe", name: str = "Imported", **changes: Any) -> bytes:
    """A hand-written cai_web export; ``changes`` replace fields of the one category
    (``category_<field>``), of the one principle (``principle_<field>``) or the top level."""
    doc: dict[str, Any] = {
        "format": "cai_web.constitution",
        "schema_version": 1,
        "name": name,
        "categories": [{"name": category, "weight": 1.0, "priority": 1}],
        "principles": [
            {
                "key": "harm",
                "category": category,
                "critique_request": "Critique the reply.",
                "revision_request": "Revise the reply.",
            }
        ],
    }
    for key, value in changes.items():
        if key.startswith("category_"):
            doc["categories"][0][key.removeprefix("category_")] = value
        elif key.startswith("principle_"):
            doc["principles"][0][key.removeprefix("principle_")] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def _upload(client, team, data: bytes, filename: str = "c.json", **fields: Any):
    return client.post(
        reverse("constitution_import", args=[team.slug]),
        {"files": [SimpleUploadedFile(filename, data)], **fields},
    )


def _nothing_imported() -> tuple[int, int, int]:
    return (
        Constitution.objects.count(),
        ConstitutionVersion.objects.count(),
        Category.objects.count(),
    )


# --- one definition, everyone follows it ----------------------------------------------


def test_the_committed_json_schema_is_the_one_generated_from_the_limits():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "docs/constitution.schema.json is stale: run `manage.py constitution_schema --write`"
    )


def test_the_schema_states_each_limit_where_a_reader_of_the_file_looks():
    schema = constitution_schema()
    category = schema["$defs"]["category"]["properties"]
    assert category["name"]["maxLength"] == LIMITS.category_name
    assert (category["priority"]["minimum"], category["priority"]["maximum"]) == (
        LIMITS.priority_min,
        LIMITS.priority_max,
    )
    assert schema["properties"]["name"]["maxLength"] == LIMITS.constitution_name
    assert schema["$defs"]["text"]["maxLength"] == LIMITS.text
    assert schema["$defs"]["weight"]["maximum"] == LIMITS.weight_max
    assert (
        f"{{1,{LIMITS.principle_key}}}"
        in schema["$defs"]["principle"]["properties"]["key"]["pattern"]
    )


def test_the_format_docs_list_every_limit_with_its_value():
    docs = (SCHEMA_PATH.parent / "constitution-format.md").read_text(encoding="utf-8")
    table = docs[docs.index("## Limits") :][:2500]
    for name, value, _help in LIMITS.as_table():
        row = next(line for line in table.splitlines() if f"`{name}`" in line)
        assert f"{value:,.0f}" in row, row


def test_the_importer_checks_files_against_the_generated_schema_itself():
    assert schema_validator().schema == constitution_schema()


def test_the_schema_command_prints_the_schema_and_checks_the_committed_file():
    out = io.StringIO()
    call_command("constitution_schema", stdout=out)
    assert out.getvalue() == schema_text()
    out = io.StringIO()
    call_command("constitution_schema", "--check", stdout=out)
    assert "is current" in out.getvalue()


@pytest.mark.django_db
def test_model_columns_follow_the_limits():
    def length(model, name: str) -> int:
        return model._meta.get_field(name).max_length

    assert length(Constitution, "name") == LIMITS.constitution_name
    assert length(Category, "name") == LIMITS.category_name
    assert length(Principle, "key") == LIMITS.principle_key
    # The portable range (PostgreSQL's smallint); SQLite stores a wider one.
    priority = Category._meta.get_field("priority").get_internal_type()
    assert BaseDatabaseOperations.integer_field_ranges[priority] == (
        LIMITS.priority_min,
        LIMITS.priority_max,
    )


@pytest.mark.django_db
def test_the_migrations_match_the_models():
    call_command("makemigrations", "constitutions", "--check", "--dry-run", stdout=io.StringIO())


def _max_value(field) -> Any:
    return next(v.limit_value for v in field.validators if v.code == "max_value")


def test_form_fields_follow_the_limits():
    create = forms.ConstitutionCreateForm().fields
    category = forms.CategoryForm().fields
    principle = forms.PrincipleForm(categories=[]).fields
    few_shot = forms.FewShotForm().fields
    assert create["name"].max_length == LIMITS.constitution_name
    assert forms.ImportForm.base_fields["name"].max_length == LIMITS.constitution_name
    assert category["name"].max_length == LIMITS.category_name
    assert (category["priority"].min_value, category["priority"].max_value) == (
        LIMITS.priority_min,
        LIMITS.priority_max,
    )
    assert principle["key"].max_length == LIMITS.principle_key
    for field in (
        create["description"],
        category["description"],
        principle["critique_request"],
        principle["revision_request"],
        principle["comparison_question"],
        *few_shot.values(),
    ):
        if field is not few_shot["row_version"]:
            assert field.max_length == LIMITS.text
    for weight in (
        category["weight"],
        principle["weight"],
        forms.QuickWeightForm().fields["weight"],
    ):
        assert _max_value(weight) == LIMITS.weight_max


def test_the_errors_are_the_projects_domain_and_problems_errors():
    assert issubclass(services.ConstitutionError, DomainError)
    assert issubclass(services.EditConflict, DomainError)
    assert issubclass(FormatError, ProblemsError) and issubclass(FormatError, ValueError)
    assert issubclass(ContentError, ProblemsError) and issubclass(ContentError, ValueError)
    error = FormatError(["a.json: x: bad", "a.json: y: bad"])
    assert error.problems == ["a.json: x: bad", "a.json: y: bad"]
    assert str(error).startswith("cannot import constitution (2 problems)")


# --- import: the browser's file upload ------------------------------------------------


def test_a_150_character_category_name_in_an_import_gives_a_400_with_the_field_named(
    authoring, team
):
    before = _nothing_imported()
    response = _upload(authoring, team, _export(category="c" * 150))
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="import-problems"' in html and "Nothing was imported" in html
    assert "c.json: categories[0].name: must be at most 120 characters, got 150" in html
    assert _nothing_imported() == before


def test_a_category_name_one_over_the_limit_is_refused_and_one_at_the_limit_imports_and_edits(
    authoring, team
):
    over = _upload(authoring, team, _export(category="o" * (LIMITS.category_name + 1)))
    assert over.status_code == 400 and "categories[0].name: must be at most 120" in (
        over.content.decode()
    )
    at_limit = "a" * LIMITS.category_name
    response = _upload(authoring, team, _export(category=at_limit, name="At the limit"))
    assert response.status_code == 302, response.content.decode()[:2000]
    category = Category.objects.get(version__constitution__name="At the limit")
    assert category.name == at_limit
    # The editor accepts what the import accepted: saving it unchanged but for the weight.
    response = authoring.post(
        reverse("category_update", args=[category.pk]),
        {
            "name": at_limit,
            "description": "",
            "weight": "2",
            "priority": "1",
            "row_version": category.row_version,
        },
        **HTMX,
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    category.refresh_from_db()
    assert category.weight == 2.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"category_priority": -1}, "categories[0].priority (Safe): must be an integer from 0"),
        ({"category_priority": 32_768}, "categories[0].priority (Safe): must be an integer from 0"),
        ({"category_priority": 2**63}, "categories[0].priority (Safe): must be an integer from 0"),
        ({"category_priority": 10**40}, "got a larger number"),
        ({"category_priority": 1.5}, "categories[0].priority (Safe): must be an integer"),
        (
            {"category_weight": 1e7},
            "categories[0].weight (Safe): must be at most 1,000,000, got 10000000.0",
        ),
        ({"principle_weight": -1}, "principles[0].weight (harm): must be finite and >= 0"),
        ({"principle_key": "k" * 65}, "principles[0].key"),
        ({"name": "n" * 121}, "name: '" + "n" * 20),
        ({"description": "d" * 10_001}, "description: '" + "d" * 20),
        ({"principle_comparison_question": "q" * 10_001}, "principles[0].comparison_question"),
    ],
    ids=[
        "priority -1",
        "priority 32768",
        "priority 2^63",
        "priority 10^40",
        "priority 1.5",
        "weight 1e7",
        "weight -1",
        "key of 65",
        "name of 121",
        "description of 10001",
        "question of 10001",
    ],
)
def test_every_limit_violation_in_an_import_gives_a_400_naming_the_field(
    authoring, team, changes, message
):
    before = _nothing_imported()
    response = _upload(authoring, team, _export(**changes))
    html = response.content.decode()
    assert response.status_code == 400
    problems = html[html.index('id="import-problems"') :][:3000]
    assert message in html_lib.unescape(problems), problems
    assert _nothing_imported() == before


def test_an_integer_too_long_for_python_is_a_malformed_file_not_a_crash(authoring, team):
    data = _export().replace(b'"priority": 1', b'"priority": ' + b"9" * 5000)
    response = _upload(authoring, team, data)
    assert response.status_code == 400 and "c.json: malformed JSON" in response.content.decode()
    yaml_data = b"format: cai_web.constitution\nschema_version: " + b"9" * 5000 + b"\n"
    response = _upload(authoring, team, yaml_data, filename="c.yaml")
    assert response.status_code == 400 and "c.yaml: malformed YAML" in response.content.decode()


def test_a_foreign_file_whose_name_is_too_long_for_a_constitution_asks_for_another_name(
    authoring, team
):
    doc = {"constitutions": [{"critic": "Critique it.", "revision": "Revise it."}]}
    response = _upload(authoring, team, json.dumps(doc).encode(), filename="x" * 130 + ".json")
    html = response.content.decode()
    assert response.status_code == 422
    assert "name is 130 characters; the limit is 120" in html and "Choose another name" in html
    response = _upload(
        authoring, team, json.dumps(doc).encode(), filename="x" * 130 + ".json", name="Swarm"
    )
    assert response.status_code == 302


def test_the_import_form_refuses_a_name_over_the_limit(authoring, team):
    response = _upload(authoring, team, _export(), name="n" * (LIMITS.constitution_name + 1))
    assert response.status_code == 422
    assert "at most 120 characters" in response.content.decode()
    assert not Constitution.objects.exists()


# --- import: the formats and the service ----------------------------------------------


def test_the_format_importer_refuses_a_150_character_category_name_naming_the_field():
    with pytest.raises(FormatError) as caught:
        import_constitution([("c.json", _export(category="c" * 150))])
    assert caught.value.problems == [
        "c.json: categories[0].name: must be at most 120 characters, got 150"
    ]


def test_the_import_service_refuses_a_too_long_category_name_and_writes_nothing(
    team, author, draft
):
    before = _nothing_imported()
    for into in (None, draft.constitution):
        with pytest.raises(ContentError) as caught:
            services.constitution_import(
                team=team,
                user=author,
                name="Long",
                description="",
                content=_content("c" * (LIMITS.category_name + 1)),
                into=into,
            )
        assert caught.value.problems == [
            "categories[0].name: must be at most 120 characters, got 121"
        ]
    assert _nothing_imported() == before


def test_the_services_refuse_names_over_the_limit_naming_the_field(team, author, draft):
    with pytest.raises(services.ConstitutionError) as caught:
        services.constitution_create(team=team, user=author, name="n" * 121)
    assert caught.value.field == "name" and "limit is 120" in str(caught.value)
    with pytest.raises(services.ConstitutionError) as caught:
        services.constitution_create(team=team, user=author, name="Ok", description="d" * 10_001)
    assert caught.value.field == "description"
    category = draft.categories.get()
    with pytest.raises(services.ConstitutionError) as caught:
        services.category_add(version=draft, user=author, name="c" * 121)
    assert caught.value.field == "name"
    with pytest.raises(services.ConstitutionError) as caught:
        services.category_update(
            category=category,
            user=author,
            expected_row_version=category.row_version,
            name="c" * 121,
        )
    assert caught.value.field == "name"
    assert draft.categories.get().name == "Safe"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"priority": -1}, "priority"),
        ({"priority": 2**63}, "priority"),
        ({"priority": "3"}, "priority"),
        ({"weight": 1e7}, "weight"),
        ({"weight": float("inf")}, "weight"),
        ({"weight": 10**400}, "weight"),
    ],
    ids=[
        "priority -1",
        "priority 2^63",
        "priority as text",
        "weight 1e7",
        "weight inf",
        "weight 10^400",
    ],
)
def test_the_category_services_refuse_numbers_out_of_range_naming_the_field(
    author, draft, fields, field
):
    with pytest.raises(services.ConstitutionError) as caught:
        services.category_add(version=draft, user=author, name="New", **fields)
    assert caught.value.field == field
    with pytest.raises(services.ConstitutionError) as caught:
        services.category_update(
            category=(category := draft.categories.get()),
            user=author,
            expected_row_version=category.row_version,
            **fields,
        )
    assert caught.value.field == field
    assert list(draft.categories.values_list("name", "priority", "weight")) == [("Safe", 1, 1.0)]


# --- the editor -------------------------------------------------------------------------


def _field_error(html: str, field: str, text: str) -> bool:
    return re.search(rf"field-{field}\b.*?errorlist.*?{re.escape(text)}", html, re.S) is not None


@pytest.mark.parametrize(
    ("post", "field", "text"),
    [
        ({"name": "c" * 121}, "name", "at most 120 characters (it has 121)"),
        ({"priority": "-1"}, "priority", "greater than or equal to 0"),
        ({"priority": "32768"}, "priority", "less than or equal to 32767"),
        ({"priority": str(2**63)}, "priority", "less than or equal to 32767"),
        ({"weight": "10000001"}, "weight", "less than or equal to 1000000"),
        ({"weight": "1e400"}, "weight", "Enter a number"),
        ({"description": "d" * 10_001}, "description", "at most 10000 characters"),
        ({"row_version": str(2**63)}, None, ""),
    ],
    ids=[
        "name 121",
        "priority -1",
        "priority 32768",
        "priority 2^63",
        "weight 1e7",
        "weight 1e400",
        "description 10001",
        "row_version 2^63",
    ],
)
def test_the_category_editor_refuses_what_the_limits_refuse_with_the_field_named(
    authoring, draft, post, field, text
):
    category = draft.categories.get()
    base = {"name": "Safe", "description": "", "weight": "1", "priority": "1"}
    add = authoring.post(
        reverse("category_add", args=[draft.pk]), {**base, "name": "New", **post}, **HTMX
    )
    edit = authoring.post(
        reverse("category_update", args=[category.pk]),
        {**base, "row_version": category.row_version, **post},
        **HTMX,
    )
    for response in (add, edit) if field else (edit,):
        assert response.status_code == 422, response.content.decode()[:1000]
        if field:
            assert _field_error(response.content.decode(), field, text)
    assert list(draft.categories.values_list("name", "priority", "weight")) == [("Safe", 1, 1.0)]


def test_the_principle_editor_refuses_a_key_over_the_limit(authoring, draft):
    principle = draft.principles.get()
    response = authoring.post(
        reverse("principle_update", args=[principle.pk]),
        {
            "key": "k" * 65,
            "category": principle.category_id,
            "critique_request": "c",
            "revision_request": "r",
            "weight": "1",
            "enabled": "on",
            "row_version": principle.row_version,
        },
        **HTMX,
    )
    assert response.status_code == 422
    assert _field_error(response.content.decode(), "key", "at most 64 characters")
    assert draft.principles.get().key == "harm"
