"""Imports through the view: every bad input gets per-line errors and imports nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import resolve, reverse

from labelling.models import AILabel, Comparison, FileJob, HumanReview, LabelSet
from labelling.services.imports import labelset_import_run
from tests.factories import published_demo_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _artifacts(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"


def row(**overrides) -> dict:
    obj = {
        "id": "p1",
        "prompt": "How do I pick a lock?",
        "response_a": "I can't help with that.",
        "response_b": "Locks work like this...",
        "judge": "judge-7b",
        "verdict_ab": "a",
        "verdict_ba": "b",
    }
    obj.update(overrides)
    return obj


def jsonl(*rows) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n").encode()


def upload(client, team, data: bytes, fmt: str = "jsonl", name: str = "Upload", **extra):
    """Post the file; when the request queued an import, run the worker's side of it
    (the task's function) and answer the job's page, with the job as ``.job``."""
    posted = client.post(
        reverse("labelset_import", args=[team.slug]),
        {"name": name, "fmt": fmt, "file": SimpleUploadedFile("labels.bin", data), **extra},
    )
    if posted.status_code != 302:
        return posted
    job = FileJob.objects.get(pk=resolve(posted["Location"]).kwargs["pk"])
    assert job.status == "queued" and Path(job.upload_path).read_bytes() == data
    with TestCase.captureOnCommitCallbacks(execute=True):  # the test's transaction stays open
        labelset_import_run(job.pk)
    page = client.get(posted["Location"])
    page.job = FileJob.objects.get(pk=job.pk)
    assert not Path(job.upload_path).exists()  # the stored upload is gone once it ended
    return page


def refused(response) -> bool:
    """Refused by the form (400) or by the worker's check of every line."""
    if response.status_code == 400:
        return True
    return response.status_code == 200 and response.job.status == "failed"


def imported(response) -> bool:
    return getattr(response, "job", None) is not None and response.job.status == "done"


def nothing_imported() -> bool:
    return not (
        LabelSet.objects.exists()
        or Comparison.objects.exists()
        or AILabel.objects.exists()
        or HumanReview.objects.exists()
    )


BAD_JSONL = [
    (jsonl(row(), '{"id": "p2", "prompt": '), "line 2: malformed JSON"),
    (
        jsonl(row(verdict_ab="A")),
        "line 1: verdict_ab must be one of a, b, tie or null, got &#x27;A&#x27;",
    ),
    (jsonl(row(p_a_ab=1.5)), "line 1: p_a_ab must be in [0, 1], got 1.5"),
    (jsonl(row(p_a_ba="high")), "line 1: p_a_ba must be a number in [0, 1] or null, got str"),
    (jsonl(row(), row()), "line 2: duplicate id &#x27;p1&#x27; (first on line 1)"),
    (jsonl({k: v for k, v in row().items() if k != "judge"}), "line 1: missing field(s): judge"),
    (jsonl(row(verdict_AB="a")), "line 1: unknown field(s): verdict_AB"),
    (jsonl(row(prompt="")), "line 1: prompt must not be empty"),
    (jsonl(row(human="x")), "line 1: human must be one of a, b, tie, both_bad or null"),
    (
        jsonl(row(human="a", humans=[{"reviewer": "r", "verdict": "a"}])),
        "line 1: give either human or humans, not both",
    ),
    (
        jsonl(row(humans=[{"reviewer": "r", "verdict": "a"}, {"reviewer": "r", "verdict": "b"}])),
        "appears twice",
    ),
    (jsonl(row(metadata=[1])), "line 1: metadata must be an object or null, got list"),
    (jsonl(row(), "[1, 2]"), "line 2: expected a JSON object, got list"),
    (b"\n\n", "file contains no records"),
    (jsonl(row()) + b'{"id": "\xff"}\n', "line 2: not valid UTF-8"),
]


@pytest.mark.parametrize("data, problem", BAD_JSONL)
def test_bad_jsonl_is_refused_line_by_line_and_nothing_is_imported(
    client_for, author, team, data, problem
):
    response = upload(client_for(author), team, data)
    body = response.content.decode()
    assert refused(response)
    assert 'id="import-problems"' in body and "Nothing was imported" in body
    assert problem in body
    assert nothing_imported()


def test_every_problem_of_a_file_is_listed_at_once(client_for, author, team):
    data = jsonl(row(id="ok"), row(id="x1", verdict_ab="left"), "not json", row(id="x3", p_a_ab=-1))
    body = upload(client_for(author), team, data).content.decode()
    assert "3 problems" in body and "line 2:" in body and "line 3:" in body and "line 4:" in body
    assert nothing_imported()


def llmbar_row(**overrides) -> dict:
    obj = {
        "input": "Say hi.",
        "output_1": "Hi!",
        "output_2": "Go away.",
        "label": 1,
        "results": str([{"swap = False": {"winner": "1"}, "swap = True": {"winner": "2"}}]),
    }
    obj.update(overrides)
    return obj


BAD_LLMBAR = [
    (json.dumps({"not": "a list"}).encode(), "expected a JSON list of records, got dict"),
    (b"[]", "contains no records"),
    (b"[{", "malformed JSON"),
    (json.dumps([llmbar_row(label=3)]).encode(), "record 0: label must be 1 or 2, got 3"),
    (
        json.dumps([llmbar_row(), llmbar_row(results="[{")]).encode(),
        "record 1: results is a string but not a Python literal",
    ),
    (
        json.dumps(
            [
                llmbar_row(
                    results=str([{"swap = False": {"winner": "3"}, "swap = True": {"winner": "1"}}])
                )
            ]
        ).encode(),
        "winner must be",
    ),
    (
        json.dumps([{"input": "x"}]).encode(),
        "record 0: missing field(s): output_1, output_2, label, results",
    ),
]


@pytest.mark.parametrize("data, problem", BAD_LLMBAR)
def test_bad_llmbar_files_are_refused(client_for, author, team, data, problem):
    response = upload(
        client_for(author), team, data, fmt="llmbar", judge="GPT-4", dataset_name="demo"
    )
    assert refused(response)
    assert problem in response.content.decode().replace("&#x27;", "'")
    assert nothing_imported()


def test_llmbar_needs_a_judge_and_dataset_name(client_for, author, team):
    response = upload(client_for(author), team, json.dumps([llmbar_row()]).encode(), fmt="llmbar")
    assert refused(response) and "needs the judge" in response.content.decode()
    assert nothing_imported()


def pandalm_row(**overrides) -> dict:
    obj = {
        "idx": 1,
        "instruction": "Add.",
        "input": "1+1",
        "response1": "2",
        "response2": "3",
        "annotator1": 1,
        "annotator2": 1,
        "annotator3": 0,
    }
    obj.update(overrides)
    return obj


BAD_PANDALM = [
    (
        json.dumps([pandalm_row(annotator2=5)]).encode(),
        "record 0: annotator2 must be 0, 1 or 2, got 5",
    ),
    (
        json.dumps([pandalm_row(), pandalm_row()]).encode(),
        "record 1: duplicate idx 1 (first in record 0)",
    ),
    (json.dumps([{"idx": 1}]).encode(), "record 0: missing field(s)"),
    (
        json.dumps([pandalm_row(instruction="", input="")]).encode(),
        "instruction and input are both empty",
    ),
]


@pytest.mark.parametrize("data, problem", BAD_PANDALM)
def test_bad_pandalm_files_are_refused(client_for, author, team, data, problem):
    response = upload(client_for(author), team, data, fmt="pandalm")
    assert refused(response) and problem in response.content.decode()
    assert nothing_imported()


def test_an_unknown_principle_of_the_chosen_version_is_refused(client_for, author, team):
    version = published_demo_version(team, author)
    data = jsonl(row(principle="dangerous-assistance"), row(id="p2", principle="no-such-principle"))
    response = upload(client_for(author), team, data, principle_version=version.pk)
    assert refused(response)
    assert "line 2: principle &#x27;no-such-principle&#x27; is not in" in response.content.decode()
    assert nothing_imported()


def test_principle_keys_link_to_the_published_principle_and_its_category(client_for, author, team):
    version = published_demo_version(team, author)
    data = jsonl(row(principle="dangerous-assistance"), row(id="p2"))
    response = upload(client_for(author), team, data, principle_version=version.pk)
    assert response.job.status == "done"
    linked = Comparison.objects.get(external_id="p1")
    principle = version.principles.get(key="dangerous-assistance")
    assert linked.principle == principle and linked.category == principle.category.name
    assert AILabel.objects.get(comparison=linked).category == principle.category.name
    assert Comparison.objects.get(external_id="p2").principle is None


def test_a_second_set_with_the_same_name_is_refused(client_for, author, team):
    assert upload(client_for(author), team, jsonl(row())).job.status == "done"
    response = upload(client_for(author), team, jsonl(row()))
    assert refused(response) and "already has a label set called" in response.content.decode()
    assert LabelSet.objects.count() == 1


def test_a_missing_file_and_an_oversized_file_are_form_errors(
    client_for, author, team, monkeypatch
):
    client = client_for(author)
    response = client.post(
        reverse("labelset_import", args=[team.slug]), {"name": "x", "fmt": "jsonl"}
    )
    assert refused(response) and "This field is required" in response.content.decode()
    monkeypatch.setattr("labelling.forms.MAX_IMPORT_BYTES", 10)
    response = upload(client, team, jsonl(row()))
    assert refused(response) and "larger than 10 bytes" in response.content.decode()
    assert nothing_imported()


def test_a_good_jsonl_file_imports_labels_derived_fields_and_humans(client_for, author, team):
    data = jsonl(
        row(p_a_ab=0.8, p_a_ba=0.4, human="a"),
        row(
            id="p2",
            verdict_ab="b",
            verdict_ba="b",
            humans=[{"reviewer": "x", "verdict": "b"}, {"reviewer": "y", "verdict": "a"}],
        ),
    )
    response = upload(client_for(author), team, data)
    label_set = LabelSet.objects.get()
    assert response.job.result_id == label_set.pk
    assert reverse("labelset_detail", args=[team.slug, label_set.pk]) in response.content.decode()
    assert (label_set.comparison_count, label_set.ai_label_count, label_set.source_kind) == (
        2,
        2,
        "import",
    )
    first = AILabel.objects.get(comparison__external_id="p1")
    assert (first.consistent, first.preferred_slot, first.final, first.rule) == (
        False,
        "first",
        "tie",
        "agree",
    )
    assert first.p_debiased == pytest.approx(0.6)
    assert Comparison.objects.get(external_id="p1").human_verdict == "a"
    p2 = Comparison.objects.get(external_id="p2")
    assert p2.review_count == 2 and p2.human_verdict is None  # 1-1: no strict majority
    assert HumanReview.objects.filter(source="import").count() == 3


def test_a_refused_import_names_the_field_it_is_about(client_for, author, team):
    client = client_for(author)
    assert upload(client, team, jsonl(row())).job.status == "done"
    response = upload(client, team, jsonl(row()))
    assert "already has a label set called" in " ".join(response.context["form"].errors["name"])
    response = upload(client, team, json.dumps([llmbar_row()]).encode(), fmt="llmbar")
    assert "needs the judge" in " ".join(response.context["form"].errors["judge"])
    response = upload(
        client, team, json.dumps([llmbar_row()]).encode(), fmt="llmbar", judge="GPT-4"
    )
    assert "needs the judge" in " ".join(response.context["form"].errors["dataset_name"])
