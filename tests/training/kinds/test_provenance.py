"""Provenance files are complete: the download beside the trl JSONL and the one inside
an SFT run's dataset both say how many examples the export holds (never null), and
which part of the prompt set the run used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from tests.training import kind_fixtures
from tests.training.kind_fixtures import TRAIN, execute, start

pytestmark = pytest.mark.django_db

artifacts = kind_fixtures.artifacts
version = kind_fixtures.version
prompt_set = kind_fixtures.prompt_set
tiny = kind_fixtures.tiny
cr_run = kind_fixtures.cr_run


def _nulls(record: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in record.items():
        if isinstance(value, dict) and key != "config":
            out += _nulls(value, f"{prefix}{key}.")
        elif value is None:
            out.append(prefix + key)
    return out


def test_the_provenance_download_counts_the_exported_examples_and_leaves_nothing_empty(
    team, cr_run, cast, client_for
) -> None:
    client = client_for(cast["viewer"])
    get = lambda fmt: client.get(reverse("run_export", args=[team.slug, cr_run.pk, fmt]))  # noqa: E731
    record = json.loads(get("provenance.json").content)
    lines = b"".join(get("trl.jsonl").streaming_content).decode().splitlines()
    assert record["run"]["examples_exported"] == len(lines) > 0
    assert record["prompt_set"]["subset"] == "all of the selection"
    assert _nulls(record) == []


def test_an_sft_datasets_provenance_says_how_many_examples_it_holds(
    team, author, cr_run, tiny
) -> None:
    run = execute(
        start("sft", team=team, user=author, source_run=cr_run, model=tiny, config={"train": TRAIN})
    )
    record = json.loads((Path(run.config["train"]["dataset_path"]) / "provenance.json").read_text())
    assert record["run"]["examples_exported"] == record["rows"] == run.result["dataset_rows"]
