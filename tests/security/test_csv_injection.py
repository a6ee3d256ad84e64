"""CSV exports: the payload of issue 12 (a CR then a formula) stays in one quoted cell and
cannot run; every CSV writer goes through ``cai_web.spreadsheet.write_csv``."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pytest

from cai_web.spreadsheet import spreadsheet_cell, write_csv
from labelling.formats import LabelRecord, export_csv

PAYLOAD = "How do I bake bread?\r=cmd|' /C calc'!A0"
ROOT = Path(__file__).resolve().parents[2]


def _record(prompt: str) -> LabelRecord:
    return LabelRecord(
        id="r1",
        prompt=prompt,
        response_a="a",
        response_b="b",
        judge="judge",
        verdict_ab="a",
        verdict_ba="a",
        p_a_ab=0.9,
        principle="harmless",
    )


def test_the_carriage_return_payload_stays_in_one_quoted_neutralised_cell():
    text = export_csv([_record(PAYLOAD)])
    # Quoted: the CR is inside quotes, so no reader splits the row there.
    assert f'"\'{PAYLOAD}"' in text
    # Every record is one CRLF-terminated row: the bare CR is inside the quoted cell.
    assert text.count("\r\n") == 2
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2  # the header and one record
    assert rows[1][3] == "'" + PAYLOAD


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
@pytest.mark.parametrize("where", ["start", "after LF", "after CR", "after CRLF"])
def test_a_formula_at_the_start_or_after_any_line_break_is_neutralised(trigger, where):
    text = {
        "start": f"{trigger}SUM(A1)",
        "after LF": f"fine\n{trigger}SUM(A1)",
        "after CR": f"fine\r{trigger}SUM(A1)",
        "after CRLF": f"fine\r\n{trigger}SUM(A1)",
    }[where]
    assert spreadsheet_cell(text) == "'" + text
    row = next(csv.reader(io.StringIO(write_csv([[text, "next"]]), newline="")))
    assert row == ["'" + text, "next"]


@pytest.mark.parametrize(
    "text", ["plain", "two\nlines", "windows\r\nlines", "a - b", "x = 1", "e@mail", ""]
)
def test_ordinary_text_is_left_as_it_is(text):
    assert spreadsheet_cell(text) == text
    assert next(csv.reader(io.StringIO(write_csv([[text]]), newline=""))) == [text]


def test_numbers_are_not_formulas():
    assert spreadsheet_cell(-0.5) == -0.5
    assert write_csv([[-1, 0.25, None]]) == "-1,0.25,\r\n"


@pytest.mark.django_db
def test_the_label_set_download_carries_the_payload_safely(team, owner, client_for):
    from labelling import services
    from labelling.formats import export_jsonl

    label_set = services.labelset_import(
        team=team,
        user=owner,
        name="payload",
        fmt="jsonl",
        data=export_jsonl([_record(PAYLOAD)]).encode(),
    )
    from tests.labelling.jobs import download_export

    body, _ = download_export(client_for(owner), team, label_set, "csv")
    text = body.decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2
    assert "'" + PAYLOAD in rows[1]


def test_every_csv_writer_in_the_apps_is_the_one_helper():
    """No module but cai_web/spreadsheet.py calls csv.writer / csv.DictWriter."""
    offenders = []
    for app in ("cai_web", "constitutions", "labelling", "training", "api"):
        for path in (ROOT / app).rglob("*.py"):
            if path.name == "spreadsheet.py" or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "csv"
                    and node.attr in ("writer", "DictWriter")
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
