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
