"""No 5xx on bad input (issue 12, finding 7): out-of-range numbers and deeply nested JSON
are 4xx answers naming the field, and nothing is written."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cai_web.jsonlimits import MAX_JSON_DEPTH, JSONLimitError, json_loads
from training.models import ModelEntry, PromptSet

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000


def test_json_loads_refuses_deep_nesting_and_nan():
    with pytest.raises(JSONLimitError, match="nested more than"):
        json_loads(DEEP)
    with pytest.raises(JSONLimitError, match="nested more than"):
        json_loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert json_loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(JSONLimitError, match="NaN"):
        json_loads('{"x": NaN}')
    assert json_loads('{"x": NaN}', allow_nan=True)["x"] != 0


def _upload(client, team, **fields):
    data = {"name": "p", "held_out_fraction": "0.1", "split_seed": "1"}
    data.update(fields)
    data.setdefault("file", SimpleUploadedFile("p.txt", b"one\ntwo\n"))
    return client.post(reverse("promptset_list", args=[team.slug]), data)


@pytest.mark.parametrize(
    "field, value",
    [
        ("split_seed", str(2**63)),
        ("split_seed", str(2**31)),
        ("split_seed", "-1"),
        ("held_out_fraction", "nan"),
        ("held_out_fraction", "inf"),
        ("held_out_fraction", "1e308"),
        ("held_out_fraction", "-0.5"),
    ],
)
def test_prompt_set_numbers_out_of_range_are_refused(team, author, client_for, field, value):
    response = _upload(client_for(author), team, **{field: value})
    assert response.status_code in (400, 422)
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not PromptSet.objects.exists()


def test_a_deeply_nested_prompt_file_is_refused_naming_the_problem(team, author, client_for):
    from tests.labelling.jobs import run_job

    body = ('{"prompt": ' + DEEP + "}\n").encode()
    client = client_for(author)
    response = _upload(client, team, file=SimpleUploadedFile("deep.jsonl", body))
    # The upload is stored and a worker parses it: the problem is on the job's page.
    assert run_job(response).status == "failed"
    assert "nested more than" in client.get(response["Location"]).content.decode()
    assert not PromptSet.objects.exists()


def test_a_deeply_nested_label_file_is_refused_naming_the_problem():
    # The page queues label imports as a job; the job's parser is where the file is read.
    from labelling.formats import LabelFormatError, parse_label_jsonl

    with pytest.raises(LabelFormatError) as refused:
        parse_label_jsonl(('{"id": ' + DEEP + "}\n").encode())
    assert refused.value.problems == [
        "line 1: malformed JSON: nested more than 64 levels deep "
        "(lists or objects inside each other) at column 1"
    ]


def _model(client, team, tmp_path, **fields):
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}")
    data = {
        "name": "m",
        "backend": "transformers",
        "path": str(folder),
        "dtype": "auto",
        "context_length": "2048",
    }
    data.update(fields)
    return client.post(reverse("model_list", args=[team.slug]), data)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("options", '{"x": NaN}', "NaN"),
        ("options", '{"x": Infinity}', "Infinity"),
        ("options", '{"x": ' + DEEP + "}", "nested more than"),
        ("context_length", str(2**63), "less than or equal"),
        ("context_length", "0", "greater than or equal"),
    ],
)
def test_model_options_and_numbers_are_refused_with_the_right_message(
    team, author, client_for, tmp_path, settings, field, value, words
):
    settings.MODEL_ROOTS = [tmp_path]
    response = _model(client_for(author), team, tmp_path, **{field: value})
    assert response.status_code in (400, 422)
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert words in errors, response.context["form"].errors
    assert "already has a model" not in response.content.decode()
    assert not ModelEntry.objects.exists()


# --- issue 11, problem 5: every JSON the app reads, one set of limits -----------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"prompt": "\\ud800"}', "the text at ['prompt'] holds a lone surrogate (\\ud800)"),
        ('[{"a": "x\\u0000y"}]', "the text at [0]['a'] holds a NUL character"),
        ('{"\\udfff": 1}', "the key at the top holds a lone surrogate (\\udfff)"),
    ],
)
def test_json_loads_refuses_text_no_database_can_store(text, words):
    with pytest.raises(JSONLimitError) as refused:
        json_loads(text)
    assert words in refused.value.msg
    # A proper surrogate pair is one character, and fine.
    assert json_loads('"\\ud83d\\ude00"') == "\U0001f600"


def test_yaml_loads_has_the_same_limits():
    from cai_web.jsonlimits import yaml_loads

    with pytest.raises(JSONLimitError, match="nested more than 64"):
        yaml_loads("a: " + "[" * 65 + "]" * 65)
    with pytest.raises(JSONLimitError, match="NUL character"):
        yaml_loads('a: "x\\0y"')
    assert yaml_loads("a: [1, 2]") == {"a": [1, 2]}


def test_a_constitution_file_with_a_nul_or_too_deep_is_refused_naming_it():
    from constitutions.formats import FormatError, import_constitution

    for name, body, words in (
        ("c.json", '{"constitutions": [{"critic": "a\\u0000", "revision": "b"}]}', "NUL"),
        ("c.yaml", "constitutions: " + "[" * 65 + "]" * 65, "nested more than 64 levels"),
        ("c.json", '{"constitutions": ' + "[" * 65 + "]" * 65 + "}", "nested more than 64"),
    ):
        with pytest.raises(FormatError) as refused:
            import_constitution([(name, body.encode())])
        assert words in str(refused.value), str(refused.value)


def test_the_api_names_why_it_cannot_read_a_request_body(team, author):
    from api.services import token_create
    from tests.api.conftest import ApiClient

    _, raw = token_create(user=author, team=team, name="ci")
    api = ApiClient(raw)
    url = f"/api/v1/teams/{team.slug}/models"
    for body, words in (
        (DEEP, "nested more than 64 levels deep"),
        ('{"name": "m", "options": {"t": NaN}}', "NaN is not a number JSON allows"),
        ('{"name": "\\ud800"}', "lone surrogate"),
        ('{"name": ', "not valid JSON: Expecting value at line 1, column 10"),
        (b'{"name": "\xff"}', "not UTF-8 text (byte 0xff"),
    ):
        response = api.post(url, body, content_type="application/json")
        assert response.status_code == 400, response.content[:300]
        assert words in response.json()["detail"], response.json()
    assert not ModelEntry.objects.exists()


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ('{"x": NaN}', "metadata['x'] is NaN or an infinity"),
        ('{"x": [1e999]}', "metadata['x'][0] is NaN or an infinity"),
        ('{"x": "\\u0000"}', "holds a NUL character"),
    ],
)
def test_label_metadata_a_json_column_cannot_store_is_refused_naming_it(
    team, author, metadata, words
):
    """On PostgreSQL these reached the jsonb column and answered 500."""
    import json

    from api.services import token_create
    from labelling.formats import export_jsonl
    from labelling.models import LabelSet
    from tests.api.conftest import ApiClient
    from tests.factories import label_records

    _, raw = token_create(user=author, team=team, name="ci")
    line = json.loads(export_jsonl(label_records(1)))
    text = json.dumps({**line, "metadata": "MARK"}).replace('"MARK"', metadata)
    response = ApiClient(raw).post(
        f"/api/v1/teams/{team.slug}/label-sets",
        {"file": SimpleUploadedFile("l.jsonl", text.encode()), "name": "m", "fmt": "jsonl"},
    )
    assert response.status_code == 422
    assert words in response.json()["detail"]
    assert not LabelSet.objects.filter(name="m").exists()
