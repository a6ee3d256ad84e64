"""Label import/export, checked against the public LLMBar and PandaLM data."""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from labelling import formats
from labelling.formats import (
    NO_JUDGE,
    HumanLabel,
    LabelFormatError,
    LabelRecord,
    export_csv,
    export_jsonl,
    human_reviews,
    import_llmbar,
    import_pandalm,
    parse_label_jsonl,
)
from labelling.stats import human_agreement, order_averaged_accuracy, position_bias

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("CAI_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
JUDGE_EVAL = SHARED_DATA / "judge-eval"

# The public data is part of the test environment (.ci/run points at it): a missing
# folder fails these tests instead of skipping them.
needs_data = pytest.mark.usefixtures("shared_data")


def line(**overrides) -> str:
    obj = {
        "id": "p1",
        "prompt": "How do I pick a lock?",
        "response_a": "I can't help with that.",
        "response_b": "Here is how locks work in general...",
        "judge": "judge-7b",
        "verdict_ab": "a",
        "verdict_ba": "a",
    }
    obj.update(overrides)
    return json.dumps({k: v for k, v in obj.items() if v is not DROP})


DROP = object()


def jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# ------------------------------------------------------------------------- JSONL: good


def test_parse_reads_every_field_and_round_trips_through_export():
    data = jsonl(
        line(
            p_a_ab=0.8,
            p_a_ba=0.6,
            human="both_bad",
            principle="harmless-1",
            metadata={"run": 3, "tags": ["x"]},
        ),
        "",  # blank lines are allowed
        line(id="p2", verdict_ab=None, verdict_ba="tie", response_b=""),
        line(
            id="p3",
            humans=[{"reviewer": "ann", "verdict": "a"}, {"reviewer": "bo", "verdict": "tie"}],
        ),
    )
    records = parse_label_jsonl(data)
    assert [r.id for r in records] == ["p1", "p2", "p3"]
    first = records[0]
    assert (first.p_a_ab, first.p_a_ba, first.human, first.principle) == (
        0.8,
        0.6,
        "both_bad",
        "harmless-1",
    )
    assert first.metadata == {"run": 3, "tags": ["x"]}
    assert records[1].verdict_ab is None and records[1].response_b == ""
    assert records[2].humans == (HumanLabel("ann", "a"), HumanLabel("bo", "tie"))
    assert parse_label_jsonl(export_jsonl(records).encode()) == records


def test_a_utf8_byte_order_mark_is_accepted():
    assert parse_label_jsonl(b"\xef\xbb\xbf" + jsonl(line()))[0].id == "p1"


def test_to_pair_judgement_uses_the_majority_of_several_humans():
    rec = parse_label_jsonl(
        jsonl(
            line(
                humans=[
                    {"reviewer": "1", "verdict": "b"},
                    {"reviewer": "2", "verdict": "b"},
                    {"reviewer": "3", "verdict": "a"},
                ]
            )
        )
    )[0]
    assert rec.to_pair_judgement().human == "b"
    split = LabelRecord(
        "x", "p", "a", "b", "j", "a", "a", humans=(HumanLabel("1", "a"), HumanLabel("2", "b"))
    )
    assert split.majority_human() is None  # 1-1 has no strict majority


# -------------------------------------------------------------------------- JSONL: bad


@pytest.mark.parametrize(
    "bad, expected",
    [
        ('{"id": "p1", ', "line 1: malformed JSON"),
        ("[1, 2]", "line 1: expected a JSON object, got list"),
        (line(judge=DROP), "line 1: missing field(s): judge"),
        (line(colour="red"), "line 1: unknown field(s): colour"),
        (line(verdict_ab="A"), "line 1: verdict_ab must be one of a, b, tie or null, got 'A'"),
        (line(verdict_ba="first"), "line 1: verdict_ba must be one of"),
        (line(p_a_ab=1.2), "line 1: p_a_ab must be in [0, 1], got 1.2"),
        (line(p_a_ba=-0.1), "line 1: p_a_ba must be in [0, 1]"),
        (line(p_a_ab="0.5"), "line 1: p_a_ab must be a number in [0, 1] or null, got str"),
        (line(p_a_ab=True), "line 1: p_a_ab must be a number"),
        (line(human="neither"), "line 1: human must be one of a, b, tie, both_bad"),
        (line(prompt="   "), "line 1: prompt must not be empty"),
        (line(id=""), "line 1: id must not be empty"),
        (line(id=7), "line 1: id must be a string, got int"),
        (line(response_a=None), "line 1: response_a must be a string, got null"),
        (line(principle=""), "line 1: principle must be a non-empty string"),
        (line(metadata=[1]), "line 1: metadata must be an object"),
        (line(humans="ann:a"), "line 1: humans must be a list"),
        (line(humans=[{"reviewer": "a"}]), "line 1: humans[0] must be an object"),
        (line(humans=[{"reviewer": "r", "verdict": "x"}]), "line 1: humans[0].verdict"),
        (
            line(humans=[{"reviewer": "r", "verdict": "a"}, {"reviewer": "r", "verdict": "b"}]),
            "line 1: humans[1]: reviewer 'r' appears twice",
        ),
        (
            line(human="a", humans=[{"reviewer": "r", "verdict": "a"}]),
            "line 1: give either human or humans, not both",
        ),
    ],
)
def test_each_bad_line_is_named(bad, expected):
    with pytest.raises(LabelFormatError) as err:
        parse_label_jsonl(jsonl(bad))
    assert any(p.startswith(expected) for p in err.value.problems), err.value.problems


def test_nan_probability_is_refused():
    # Python's json accepts the non-standard NaN token; the field check must catch it.
    bad = line().replace('"verdict_ba": "a"', '"verdict_ba": "a", "p_a_ab": NaN')
    with pytest.raises(LabelFormatError) as err:
        parse_label_jsonl(jsonl(bad))
    assert err.value.problems == ["line 1: p_a_ab must be a number in [0, 1], got NaN"]


def test_every_bad_line_is_reported_and_nothing_is_returned():
    data = jsonl(
        line(id="ok-1"),
        line(id="ok-2", verdict_ab="x"),
        "not json",
        line(id="ok-1"),
        line(id="ok-3", p_a_ab=2, human="?"),
    )
    with pytest.raises(LabelFormatError) as err:
        parse_label_jsonl(data)
    problems = err.value.problems
    assert problems[0].startswith("line 2: verdict_ab")
    assert problems[1].startswith("line 3: malformed JSON")
    assert problems[2] == "line 4: duplicate id 'ok-1' (first on line 1)"
    assert [p.split(":")[0] for p in problems[3:]] == ["line 5", "line 5"]
    assert "5 problem(s)" in str(err.value)


def test_non_utf8_is_reported_with_its_byte_offset():
    good = jsonl(line()).decode()
    data = good.encode() + b'{"id": "caf\xe9"}\n'
    with pytest.raises(LabelFormatError) as err:
        parse_label_jsonl(data)
    # the bad byte sits after the first line and 11 bytes into the second
    offset = len(good.encode()) + len(b'{"id": "caf')
    assert err.value.problems == [f"line 2: not valid UTF-8 at byte offset {offset}"]


def test_files_over_the_size_limit_are_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(formats, "MAX_LABEL_FILE_BYTES", 100)
    with pytest.raises(LabelFormatError, match="limit is 100 bytes"):
        parse_label_jsonl(b"x" * 101)
    # exactly at the limit is parsed (and here fails as JSON, not on size)
    with pytest.raises(LabelFormatError, match="malformed JSON"):
        parse_label_jsonl(b"x" * 100)


def test_default_size_limit_is_50_mb():
    assert formats.MAX_LABEL_FILE_BYTES == 50 * 1024 * 1024


def test_an_empty_file_is_an_error():
    with pytest.raises(LabelFormatError, match="no records"):
        parse_label_jsonl(b"\n\n")
    with pytest.raises(TypeError):
        parse_label_jsonl("text, not bytes")  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- CSV


def test_csv_export_flattens_humans_and_defuses_formulas():
    recs = [
        LabelRecord(
            "r1",
            "=HYPERLINK(1)",
            "a, with comma\nand newline",
            "-b",
            "j",
            "a",
            None,
            p_a_ab=0.25,
            humans=(HumanLabel("ann", "a"), HumanLabel("bo", "both_bad")),
            metadata={"k": 1},
        )
    ]
    rows = list(csv.DictReader(io.StringIO(export_csv(recs))))
    assert len(rows) == 1
    row = rows[0]
    assert row["prompt"] == "'=HYPERLINK(1)"
    assert row["response_a"] == "a, with comma\nand newline"
    assert row["response_b"] == "'-b"
    assert (row["verdict_ab"], row["verdict_ba"], row["p_a_ab"], row["p_a_ba"]) == (
        "a",
        "",
        "0.25",
        "",
    )
    assert row["humans"] == "ann:a;bo:both_bad"
    assert json.loads(row["metadata"]) == {"k": 1}


# ----------------------------------------------------------------------------- LLMBar

# Published by the LLMBar authors (Zeng et al. 2023, princeton-nlp/LLMBar at commit
# caa7bee7): Dataset/{Processed/MT-Bench, Processed/FairEval, LLMBar/Natural}/evaluators/
# {GPT-4, ChatGPT}/Vanilla_NoRules/statistics.json, fields "correct_average" (Acc.) and
# "equal" (Agr.); the repository README says these are the results reported in the paper
# (the "Vanilla" rows of its tables). Values in percent.
PUBLISHED_LLMBAR = {
    ("mt-bench", "GPT-4"): ("81.0", "87.0"),  # 174 / 200 equal
    ("mt-bench", "ChatGPT"): ("71.25", "57.49999999999999"),  # 115 / 200
    ("faireval", "GPT-4"): ("72.72727272727273", "69.6969696969697"),  # 46 / 66
    ("faireval", "ChatGPT"): ("57.57575757575758", "18.181818181818183"),  # 12 / 66
    ("natural", "GPT-4"): ("93.5", "97.0"),  # 97 / 100
    ("natural", "ChatGPT"): ("79.0", "68.0"),  # 68 / 100
}


@needs_data
@pytest.mark.parametrize("dataset, judge", sorted(PUBLISHED_LLMBAR))
def test_llmbar_accuracy_and_positional_agreement_match_the_published_numbers(dataset, judge):
    path = JUDGE_EVAL / f"llmbar-{dataset}" / judge / "result.json"
    records = import_llmbar(path.read_bytes(), judge=judge, dataset_name=dataset)
    pairs = [r.to_pair_judgement() for r in records]
    acc = order_averaged_accuracy(pairs).accuracy
    agr = position_bias(pairs).positional_agreement.rate
    published_acc, published_agr = PUBLISHED_LLMBAR[dataset, judge]
    # The published strings carry all their digits; compare at 10 decimals of a percent.
    assert round(acc * 100, 10) == round(float(published_acc), 10)
    assert round(agr * 100, 10) == round(float(published_agr), 10)


@needs_data
def test_llmbar_import_maps_outputs_labels_and_both_orders():
    raw = (JUDGE_EVAL / "llmbar-natural" / "GPT-4" / "result.json").read_bytes()
    records = import_llmbar(raw, judge="GPT-4", dataset_name="natural")
    source = json.loads(raw)
    assert len(records) == len(source) == 100
    first = records[0]
    assert first.id == "natural-0" and first.judge == "GPT-4"
    assert first.prompt == source[0]["input"] and first.response_a == source[0]["output_1"]
    assert first.human == {1: "a", 2: "b"}[source[0]["label"]]
    assert Counter(r.human for r in records) == {"b": 58, "a": 42}
    last = source[0]["results"][-1]
    assert first.verdict_ab == {"1": "a", "2": "b"}[last["swap = False"]["winner"]]
    assert first.verdict_ba == {"1": "a", "2": "b"}[last["swap = True"]["winner"]]
    assert first.metadata["completion_ab"] == last["swap = False"]["completion"][0]
    # Imported records are valid in our own format.
    assert parse_label_jsonl(export_jsonl(records).encode()) == records


def llmbar_row(**overrides) -> dict:
    row = {
        "input": "Say hi.",
        "output_1": "hi",
        "output_2": "bye",
        "label": 1,
        "results": [{"swap = False": {"winner": "1"}, "swap = True": {"winner": "2"}}],
    }
    row.update(overrides)
    return row


def test_llmbar_results_may_be_a_python_literal_string():
    results = "[{'swap = False': {'winner': '2'}, 'swap = True': {'winner': None}}]"
    (rec,) = import_llmbar(json.dumps([llmbar_row(results=results)]).encode(), "j", "set")
    assert (rec.verdict_ab, rec.verdict_ba, rec.human) == ("b", None, "a")


@pytest.mark.parametrize(
    "row, expected",
    [
        (llmbar_row(label=3), "record 0: label must be 1 or 2, got 3"),
        (llmbar_row(label=True), "record 0: label must be 1 or 2"),
        (llmbar_row(results="[{oops"), "record 0: results is a string but not a Python literal"),
        (llmbar_row(results=[]), "record 0: results must be a non-empty list"),
        (
            llmbar_row(results=[{"swap = False": {"winner": "0"}, "swap = True": {"winner": "1"}}]),
            "record 0: results[-1]['swap = False'].winner must be '1', '2' or None, got '0'",
        ),
        (
            llmbar_row(results=[{"swap = False": {"winner": "1"}}]),
            "record 0: results[-1]['swap = True'] must be an object with a winner",
        ),
        ({"input": "x"}, "record 0: missing field(s): output_1, output_2, label, results"),
        (llmbar_row(input=""), "record 0: input must not be empty"),
        ("just a string", "record 0: expected an object, got str"),
    ],
)
def test_llmbar_bad_records_are_each_named(row, expected):
    data = json.dumps([row, llmbar_row(label=9)]).encode()
    with pytest.raises(LabelFormatError) as err:
        import_llmbar(data, "j", "set")
    assert err.value.problems[0].startswith(expected), err.value.problems
    assert err.value.problems[-1] == "record 1: label must be 1 or 2, got 9"


def test_llmbar_refuses_non_lists_bad_json_and_empty_names():
    with pytest.raises(LabelFormatError, match="expected a JSON list"):
        import_llmbar(b'{"results": []}', "j", "set")
    with pytest.raises(LabelFormatError, match="malformed JSON"):
        import_llmbar(b"[{", "j", "set")
    with pytest.raises(LabelFormatError, match="not valid UTF-8 at byte offset 2"):
        import_llmbar(b'["\xff"]', "j", "set")
    with pytest.raises(ValueError, match="judge"):
        import_llmbar(json.dumps([llmbar_row()]).encode(), " ", "set")


# ---------------------------------------------------------------------------- PandaLM


@needs_data
def test_pandalm_annotator_agreement_matches_the_published_table():
    records = import_pandalm((JUDGE_EVAL / "pandalm-testset-v1.json").read_bytes())
    assert len(records) == 999
    ha = human_agreement(human_reviews(records))
    kappas = {(p.reviewer_1, p.reviewer_2): p.kappa.kappa for p in ha.pairwise}
    # WeOpenML/PandaLM README, "Test data": Cohen's kappa #1-#2 0.85, #1-#3 0.88, #2-#3 0.86.
    assert round(kappas["annotator1", "annotator2"], 2) == 0.85
    assert round(kappas["annotator1", "annotator3"], 2) == 0.88
    assert round(kappas["annotator2", "annotator3"], 2) == 0.86
    assert all(p.kappa.n == 999 for p in ha.pairwise)
    # Same README: label distribution 0 (tie) 105, 1 422, 2 472 -- the majority label.
    assert Counter(r.majority_human() for r in records) == {"tie": 105, "a": 422, "b": 472}
    # PandaLM publishes no Fleiss' kappa or alpha; every item has all three raters, so
    # both use all 999 items and land close to the mean pairwise kappa (0.864).
    assert (ha.fleiss_items, ha.fleiss_raters_per_item, ha.alpha_items) == (999, 3, 999)
    assert ha.fleiss_kappa == pytest.approx(0.8642, abs=5e-5)
    assert ha.krippendorff_alpha == pytest.approx(0.8642, abs=5e-5)


@needs_data
def test_pandalm_import_keeps_the_upstream_quirks_as_text():
    raw = (JUDGE_EVAL / "pandalm-testset-v1.json").read_bytes()
    records = {r.id: r for r in import_pandalm(raw)}
    source = {row["idx"]: row for row in json.loads(raw)}
    # idx 157 stores the answer "True" as a JSON boolean upstream.
    assert source[157]["response1"] is True and records["pandalm-157"].response_a == "True"
    # idx 18 has an empty response: kept, since an empty answer is still judged.
    assert records["pandalm-18"].response_a == ""
    rec = records["pandalm-0"]
    assert rec.prompt == f"{source[0]['instruction']}\n\n{source[0]['input']}"
    assert rec.judge == NO_JUDGE and rec.verdict_ab is None and rec.verdict_ba is None
    assert [h.reviewer for h in rec.humans] == ["annotator1", "annotator2", "annotator3"]
    assert rec.metadata["cmp_key"] == source[0]["cmp_key"]
    assert parse_label_jsonl(export_jsonl(list(records.values())).encode()) == list(
        records.values()
    )


def pandalm_row(**overrides) -> dict:
    row = {
        "idx": 1,
        "instruction": "Rewrite.",
        "input": "",
        "response1": "x",
        "response2": "y",
        "annotator1": 0,
        "annotator2": 1,
        "annotator3": 2,
    }
    row.update(overrides)
    return row


def test_pandalm_maps_zero_to_tie_and_skips_an_empty_input():
    (rec,) = import_pandalm(json.dumps([pandalm_row()]).encode())
    assert rec.prompt == "Rewrite."
    assert [h.verdict for h in rec.humans] == ["tie", "a", "b"]


@pytest.mark.parametrize(
    "row, expected",
    [
        (pandalm_row(annotator2=3), "record 0: annotator2 must be 0, 1 or 2, got 3"),
        (pandalm_row(annotator1=True), "record 0: annotator1 must be 0, 1 or 2, got True"),
        (pandalm_row(response2=None), "record 0: response2 must be a string, got null"),
        (pandalm_row(instruction=" ", input=""), "record 0: instruction and input are both empty"),
        (pandalm_row(idx=[1]), "record 0: idx must be an integer or string, got list"),
        ({"idx": 1}, "record 0: missing field(s): instruction, input, response1"),
    ],
)
def test_pandalm_bad_records_are_each_named(row, expected):
    with pytest.raises(LabelFormatError) as err:
        import_pandalm(json.dumps([row]).encode())
    assert err.value.problems[0].startswith(expected)


def test_pandalm_refuses_duplicate_idx():
    with pytest.raises(LabelFormatError) as err:
        import_pandalm(json.dumps([pandalm_row(), pandalm_row()]).encode())
    assert err.value.problems == ["record 1: duplicate idx 1 (first in record 0)"]
