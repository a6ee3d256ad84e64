"""Tests for constitutions.formats: export, round trips, the three import formats, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from constitutions.content import (
    DEFAULT_COMPARISON_QUESTION,
    DEMO_CONSTITUTION,
    CategorySpec,
    ConstitutionContent,
    ContentError,
    FewShotSpec,
    PrincipleSpec,
)
from constitutions.formats import (
    FORMAT_ID,
    MAX_IMPORT_BYTES,
    SCHEMA_PATH,
    FormatError,
    ImportedConstitution,
    export_json,
    export_yaml,
    import_constitution,
)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CAI_SHARED_DATA") or REPO.parent / "shared" / "data") / "constitutions"
PAPER = DATA / "anthropic-cai-paper"
SWARM = DATA / "hf-llm-swarm"

# The public data is part of the test environment (.ci/run points at it): a missing
# folder fails these tests instead of skipping them.
needs_data = pytest.mark.usefixtures("shared_data")


def read(path: Path) -> tuple[str, bytes]:
    return (path.name, path.read_bytes())


# Texts chosen to trip a serialiser: unicode, YAML-special words, quotes, trailing
# spaces, tabs, multi-line blocks and floats with no short decimal form.
TRICKY = ConstitutionContent(
    categories=(
        CategorySpec("Sécurité ✓", "Beschreibung: äöü — 安全", weight=0.1, priority=1),
        CategorySpec("yes", "null", weight=0.30000000000000004, priority=32_767),
        CategorySpec("# not a comment", weight=1e-7),
    ),
    principles=(
        PrincipleSpec(
            "unicode-1",
            "Sécurité ✓",
            "Critique «ceci» 🙂\nsecond line with trailing spaces   \n\tand a tab",
            "Revise: 'quoted' and \"double\"\n",
            "Which is better?  ",
            weight=0.1,
        ),
        PrincipleSpec(
            "off", "yes", "- a list-looking line", "key: value", weight=2.5, enabled=False
        ),
        PrincipleSpec("tiny", "# not a comment", "~", "&anchor *alias", weight=1e-7, id=99),
    ),
    few_shots=(
        FewShotSpec("Prompt\n\nwith blank line", "Réponse", "CR", "Critique", "RR", "Révision\n"),
    ),
)


@pytest.mark.parametrize("content", [DEMO_CONSTITUTION, TRICKY], ids=["demo", "tricky"])
@pytest.mark.parametrize(("export", "filename"), [(export_json, "c.json"), (export_yaml, "c.yaml")])
def test_import_of_an_export_keeps_the_content_hash(
    content: ConstitutionContent, export: Any, filename: str
) -> None:
    text = export(content, name="Démo", description="Line one\nline two", version=4)
    imported = import_constitution([(filename, text.encode("utf-8"))])
    assert imported.content.content_hash() == content.content_hash()
    assert imported.content.to_dict() == content.to_dict()
    assert (imported.name, imported.description) == ("Démo", "Line one\nline two")
    assert imported.source_format == "cai_web"
    assert imported.warnings == ()


def test_the_export_carries_the_versioned_envelope_in_a_fixed_order() -> None:
    doc = json.loads(export_json(DEMO_CONSTITUTION, name="Demo", version=2))
    assert list(doc) == [
        "format",
        "schema_version",
        "name",
        "description",
        "version",
        "content_hash",
        "categories",
        "principles",
        "few_shots",
    ]
    assert doc["format"] == FORMAT_ID == "cai_web.constitution"
    assert doc["schema_version"] == 2
    assert doc["version"] == 2
    assert doc["content_hash"] == DEMO_CONSTITUTION.content_hash()
    assert yaml.safe_load(export_yaml(DEMO_CONSTITUTION, name="Demo", version=2)) == doc
    assert json.loads(export_json(DEMO_CONSTITUTION, name="Demo"))["version"] is None


def test_yaml_export_writes_multi_line_text_as_blocks_and_keeps_unicode() -> None:
    text = export_yaml(TRICKY, name="T")
    assert "Sécurité ✓" in text and "\\u" not in text
    assert "Prompt\n" in text  # a literal block, not an escaped "\n"


def test_the_export_passes_its_own_json_schema() -> None:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads(export_json(TRICKY, name="T", version=1))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []


def test_export_checks_its_arguments_and_the_content() -> None:
    with pytest.raises(ValueError, match="does not match the content"):
        export_json(DEMO_CONSTITUTION, name="Demo", content_hash="0" * 64)
    assert export_json(DEMO_CONSTITUTION, name="D", content_hash=DEMO_CONSTITUTION.content_hash())
    with pytest.raises(ValueError, match="name: must not be empty"):
        export_yaml(DEMO_CONSTITUTION, name=" ")
    with pytest.raises(ValueError, match="version: must be a positive integer"):
        export_json(DEMO_CONSTITUTION, name="D", version=0)
    bad = ConstitutionContent(categories=(CategorySpec("A", weight=float("nan")),))
    with pytest.raises(ContentError, match=r"categories\[0\].weight \(A\)"):
        export_json(bad, name="Bad")


def test_an_edited_export_imports_with_a_warning_about_the_hash() -> None:
    doc = json.loads(export_json(DEMO_CONSTITUTION, name="Demo"))
    doc["principles"][0]["weight"] = 5.0
    imported = import_constitution([("edited.json", json.dumps(doc).encode())])
    assert imported.content.principle("dangerous-assistance").weight == 5.0
    assert len(imported.warnings) == 1 and "does not match the content" in imported.warnings[0]


def test_a_hand_written_yaml_file_with_defaults_imports() -> None:
    text = """
format: cai_web.constitution
schema_version: 1
name: Hand written
categories:
  - name: Care
principles:
  - key: kind
    category: Care
    critique_request: Was the reply unkind?
    revision_request: Make it kind.
"""
    imported = import_constitution([("hand.yml", text.encode())])
    (principle,) = imported.content.principles
    assert (principle.weight, principle.enabled, principle.comparison_question) == (1.0, True, "")
    assert imported.content.categories == (CategorySpec("Care"),)
    assert imported.description == "" and imported.warnings == ()


MIXED = ConstitutionContent(
    categories=(CategorySpec("A"),),
    principles=(
        PrincipleSpec("both", "A", "c", "r", "q?"),
        PrincipleSpec("sl-only", "A", critique_request="c2", revision_request="r2"),
        PrincipleSpec("judge-only", "A", comparison_question="Which is kinder?"),
    ),
)


@pytest.mark.parametrize(("export", "filename"), [(export_json, "x.json"), (export_yaml, "x.yaml")])
def test_labeller_only_and_sl_only_principles_round_trip(export: Any, filename: str) -> None:
    text = export(MIXED, name="Mixed")
    again = import_constitution([(filename, text.encode())])
    assert again.content == MIXED and again.content.content_hash() == MIXED.content_hash()
    assert [p.role for p in again.content.principles] == [
        "both",
        "critique-revision only",
        "labeller only",
    ]


def test_a_schema_version_1_export_still_imports_with_its_hash() -> None:
    """Files written before format 2 (every principle with both requests) read unchanged."""
    doc = export_doc()
    doc["schema_version"] = 1
    imported = import_doc(doc)
    assert imported.content == DEMO_CONSTITUTION and imported.warnings == ()
    assert imported.content.content_hash() == doc["content_hash"]


def test_a_labeller_only_principle_may_leave_the_request_fields_out() -> None:
    text = """
format: cai_web.constitution
schema_version: 2
name: Judge
categories: [{name: A}]
principles:
  - {key: kind, category: A, comparison_question: "Which reply is kinder?"}
  - {key: empty, category: A}
"""
    problems = problems_of([("j.yaml", text.encode())])
    assert problems == [
        "j.yaml: principles[1].critique_request (empty): must not be empty: a principle needs "
        "critique and revision requests (critique-revision), a comparison question (the AI "
        "labeller), or both"
    ]
    imported = import_constitution(
        [("j.yaml", text.replace("  - {key: empty, category: A}\n", "").encode())]
    )
    assert imported.content.principle("kind").role == "labeller only"


# --- the CAI paper ------------------------------------------------------------------------


@needs_data
def test_the_cai_paper_imports_16_critique_and_16_comparison_principles_unpaired() -> None:
    """The paper's two lists are independent: no critique principle gets a question."""
    imported = import_constitution([read(p) for p in sorted(PAPER.iterdir())])
    content = imported.content
    assert imported.source_format == "cai_paper"
    raw = json.loads((PAPER / "CritiqueRevisionInstructions.json").read_text())
    madison = json.loads((PAPER / "RLMadisonInstructions.json").read_text())
    critique = [p for p in content.principles if p.critiques]
    comparison = [p for p in content.principles if p.compares]
    assert [p.key for p in critique] == list(raw) == [f"harmful{i}" for i in range(16)]
    assert [p.key for p in comparison] == [f"comparison{i}" for i in range(16)]
    assert len(content.principles) == 32  # no principle is both
    assert {p.category for p in content.principles} == {"Imported"}
    assert len(content.few_shots) == 5
    for principle in critique:
        for text in (principle.critique_request, principle.revision_request):
            assert "Request:" not in text and not text.endswith(":") and text == text.strip()
        assert principle.critique_request in raw[principle.key]["prompt"][0]
        assert principle.revision_request in raw[principle.key]["edit_request"]
        assert principle.comparison_question == "" and principle.role == "critique-revision only"
    for i, principle in enumerate(comparison):
        # the "Options:" cue is the labeller's prompt, not the question
        assert principle.comparison_question in madison[i]
        assert not principle.comparison_question.endswith("Options:")
        assert principle.critique_request == principle.revision_request == ""
        assert principle.role == "labeller only"
    assert content.principle("harmful0").comparison_question == ""
    assert content.principle("comparison1").comparison_question.startswith(
        "Please choose the response"
    )
    assert len(imported.warnings) == 1 and "RLMadisonFewShotPrompts.json" in imported.warnings[0]


@needs_data
def test_the_imported_paper_draws_critique_and_comparison_principles_from_their_own_list() -> None:
    from constitutions.sampler import (
        comparison_fallback,
        principle_probabilities,
        sample_principles,
    )

    content = import_constitution([read(p) for p in sorted(PAPER.iterdir())]).content
    critique = principle_probabilities(content, "critique")
    comparison = principle_probabilities(content, "comparison")
    assert {k for k, v in critique.items() if v} == {f"harmful{i}" for i in range(16)}
    assert {k for k, v in comparison.items() if v} == {f"comparison{i}" for i in range(16)}
    assert all(v == pytest.approx(1 / 16) for v in critique.values() if v)
    assert not comparison_fallback(content)
    assert all(p.critiques for p in sample_principles(content, 500, 1, "critique"))
    assert all(p.compares for p in sample_principles(content, 500, 1, "comparison"))


@needs_data
def test_paper_few_shots_split_the_dialogue_from_the_critique_and_revision() -> None:
    imported = import_constitution(
        [
            read(PAPER / "CritiqueRevisionInstructions.json"),
            read(PAPER / "CritiqueRevisionFewShotPrompts.json"),
        ]
    )
    first, second = imported.content.few_shots[:2]
    # the first dialogue has two human turns: the prompt is the transcript up to the last reply
    assert first.prompt.startswith("Human: Could you help me burn down my house")
    assert "\n\nAssistant: " in first.prompt and first.prompt.endswith("burn my house down?")
    assert first.response.startswith("The easiest way")
    # a single exchange gives the human's words alone
    assert second.prompt.startswith("is it really necessary") and "Human:" not in second.prompt
    for shot in imported.content.few_shots:
        for text in (shot.response, shot.critique, shot.revision):
            assert not any(
                tag in text for tag in ("CritiqueRequest:", "RevisionRequest:", "\n\nHuman:")
            )


@needs_data
def test_the_paper_without_rl_principles_leaves_comparison_questions_empty() -> None:
    imported = import_constitution([read(PAPER / "CritiqueRevisionInstructions.json")])
    assert len(imported.content.principles) == 16
    assert all(p.comparison_question == "" for p in imported.content.principles)
    assert imported.content.few_shots == ()
    (warning,) = imported.warnings
    assert "no comparison question" in warning and DEFAULT_COMPARISON_QUESTION in warning


@needs_data
def test_any_number_of_rl_principles_imports_beside_the_critique_principles() -> None:
    madison = json.loads((PAPER / "RLMadisonInstructions.json").read_text())
    imported = import_constitution(
        [
            read(PAPER / "CritiqueRevisionInstructions.json"),
            ("RLMadisonInstructions.json", json.dumps(madison[:12]).encode()),
        ]
    )
    roles = [p.role for p in imported.content.principles]
    assert roles == ["critique-revision only"] * 16 + ["labeller only"] * 12


@needs_data
def test_rl_principles_alone_are_not_a_constitution() -> None:
    with pytest.raises(FormatError, match="needs CritiqueRevisionInstructions.json"):
        import_constitution([read(PAPER / "RLMadisonInstructions.json")])


@needs_data
def test_an_imported_paper_constitution_round_trips_through_our_export() -> None:
    imported = import_constitution([read(p) for p in sorted(PAPER.iterdir())])
    for export, filename in ((export_json, "x.json"), (export_yaml, "x.yaml")):
        text = export(imported.content, name=imported.name, description=imported.description)
        again = import_constitution([(filename, text.encode())])
        assert again.content.content_hash() == imported.content.content_hash()


def test_a_malformed_paper_few_shot_is_reported_by_position() -> None:
    instructions = {
        "harmful0": {
            "prompt": ["\n\nCritiqueRequest: Find the harm.\n\nCritique:"],
            "edit_request": "\n\nRevisionRequest: Remove it.\n\nRevision:",
        }
    }
    shots = [
        "\n\nHuman: Hi\n\nAssistant: Hello\n\nCritiqueRequest: x\n\nCritique: y",
        "CritiqueRequest",
    ]
    with pytest.raises(FormatError) as info:
        import_constitution(
            [("a.json", json.dumps(instructions).encode()), ("b.json", json.dumps(shots).encode())]
        )
    assert info.value.problems == [
        "b.json: [0]: does not end with CritiqueRequest, Critique, RevisionRequest, Revision",
        "b.json: [1]: text before the first 'Human:' turn",
    ]


# --- llm-swarm ----------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize(
    ("filename", "principles"), [("constitution_anthropic.json", 16), ("constitution_grok.json", 2)]
)
def test_llm_swarm_files_import_principles_and_system_chats_as_few_shots(
    filename: str, principles: int
) -> None:
    raw = json.loads((SWARM / filename).read_text())
    imported = import_constitution([read(SWARM / filename)])
    assert imported.source_format == "llm_swarm"
    assert imported.name == Path(filename).stem
    content = imported.content
    assert len(content.principles) == principles
    assert [p.key for p in content.principles] == [f"harmful{i}" for i in range(principles)]
    for principle, item in zip(content.principles, raw["constitutions"], strict=True):
        assert principle.critique_request == item["critic"].strip()
        assert principle.revision_request == item["revision"].strip()
    assert len(content.few_shots) == len(raw["system_chat"]) == 4
    for shot, chat in zip(content.few_shots, raw["system_chat"], strict=True):
        assert shot.revision == chat[-1]["content"].strip()
        assert shot.critique_request == chat[-4]["content"].strip()
        assert shot.response == chat[-5]["content"].strip()
    # Nothing to compare with: the import says what AI labelling asks instead.
    assert all(p.comparison_question == "" for p in content.principles)
    (warning,) = imported.warnings
    assert "no comparison question" in warning and DEFAULT_COMPARISON_QUESTION in warning


@needs_data
def test_a_multi_turn_system_chat_keeps_the_earlier_turns_in_the_prompt() -> None:
    imported = import_constitution([read(SWARM / "constitution_grok.json")])
    multi = [s for s in imported.content.few_shots if s.prompt.startswith("Human: ")]
    assert len(multi) == 1
    assert multi[0].prompt.count("Human: ") == 2 and multi[0].prompt.count("Assistant: ") == 1


def test_a_bad_llm_swarm_file_lists_every_problem() -> None:
    doc = {
        "constitutions": [
            {"critic": "Find it.", "revision": ""},
            {"critic": "Only half"},
            {"critic": "a", "revision": "b", "x": 1},
        ],
        "system_chat": [[{"role": "user", "content": "hi"}]],
        "extra": True,
    }
    with pytest.raises(FormatError) as info:
        import_constitution([("swarm.json", json.dumps(doc).encode())])
    assert info.value.problems == [
        "swarm.json: unknown field(s) extra",
        "swarm.json: constitutions[1]: revision must be present as text",
        "swarm.json: constitutions[2]: unknown field(s) x",
        "swarm.json: system_chat[0]: must alternate user and assistant messages: the dialogue, "
        "then the critique request, critique, revision request and revision",
        "swarm.json: principles[0].revision_request (harmful0): must not be empty when there "
        "is a critique request (give both requests, or neither for a labeller-only principle)",
    ]


# --- bad input ----------------------------------------------------------------------------


def export_doc() -> dict[str, Any]:
    return json.loads(export_json(DEMO_CONSTITUTION, name="Demo", version=1))


def import_doc(doc: dict[str, Any], filename: str = "c.json") -> ImportedConstitution:
    if filename.endswith(".json"):
        data = json.dumps(doc, ensure_ascii=False).encode()
    else:
        data = yaml.safe_dump(doc, allow_unicode=True).encode()
    return import_constitution([(filename, data)])


def problems_of(files: list[tuple[str, bytes]]) -> list[str]:
    with pytest.raises(FormatError) as info:
        import_constitution(files)
    message = str(info.value)
    assert all(p in message for p in info.value.problems)
    return info.value.problems


def test_malformed_json_reports_line_and_column() -> None:
    text = '{\n  "format": "cai_web.constitution",\n  "name": "x",,\n}'
    assert problems_of([("bad.json", text.encode())]) == [
        "bad.json: malformed JSON at line 3, column 15: Expecting property name enclosed in double quotes"
    ]


def test_malformed_yaml_reports_line_and_column() -> None:
    text = "format: cai_web.constitution\nname: [unclosed\nprinciples: []\n"
    (problem,) = problems_of([("bad.yaml", text.encode())])
    assert problem.startswith("bad.yaml: malformed YAML at line 3, column 11")


def test_unknown_and_missing_fields_are_all_reported() -> None:
    doc = export_doc()
    doc["colour"] = "red"
    del doc["name"]
    doc["principles"][0]["importance"] = 3
    del doc["principles"][1]["revision_request"]
    doc["categories"][2].pop("name")
    problems = problems_of([("c.json", json.dumps(doc).encode())])
    assert "c.json: (top level): 'name' is a required property" in problems
    assert (
        "c.json: (top level): Additional properties are not allowed ('colour' was unexpected)"
        in problems
    )
    assert any(
        p.startswith("c.json: principles[0] (dangerous-assistance): unknown field 'importance'")
        for p in problems
    )
    assert (
        "c.json: principles[1].revision_request (people-at-risk): must not be empty when there "
        "is a critique request (give both requests, or neither for a labeller-only principle)"
    ) in problems
    assert "c.json: categories[2].name: required field is missing" in problems
    # principles of the nameless category are reported as pointing at an unknown category
    assert (
        "c.json: principles[5].category (stay-in-scope): unknown category 'Guidelines'" in problems
    )
    assert len(problems) == 6


def test_a_wrong_format_marker_and_schema_version_are_refused() -> None:
    doc = export_doc()
    doc["format"] = "something.else"
    doc["schema_version"] = 3
    problems = problems_of([("c.json", json.dumps(doc).encode())])
    assert "c.json: format: 'cai_web.constitution' was expected" in problems
    assert any("unsupported schema version 3" in p for p in problems)


@pytest.mark.parametrize("weight", [-1, -0.001])
@pytest.mark.parametrize("filename", ["c.json", "c.yaml"])
def test_negative_weights_are_refused(weight: float, filename: str) -> None:
    doc = export_doc()
    doc["principles"][3]["weight"] = weight
    doc["categories"][1]["weight"] = weight
    with pytest.raises(FormatError) as info:
        import_doc(doc, filename)
    assert info.value.problems == [
        f"{filename}: categories[1].weight (Broadly ethical): must be finite and >= 0, got {float(weight)}",
        f"{filename}: principles[3].weight (fairness): must be finite and >= 0, got {float(weight)}",
    ]


@pytest.mark.parametrize(
    ("literal", "shown"), [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")]
)
def test_json_nan_and_infinity_literals_are_refused(literal: str, shown: str) -> None:
    text = export_json(DEMO_CONSTITUTION, name="Demo").replace(
        '"weight": 2.0', f'"weight": {literal}', 1
    )
    problems = problems_of([("c.json", text.encode())])
    assert problems == [
        f"c.json: categories[1].weight (Broadly ethical): must be finite and >= 0, got {shown}"
    ]


@pytest.mark.parametrize(
    ("literal", "shown"), [(".nan", "nan"), (".inf", "inf"), ("-.inf", "-inf"), (".NaN", "nan")]
)
def test_yaml_nan_and_infinity_are_refused(literal: str, shown: str) -> None:
    text = export_yaml(DEMO_CONSTITUTION, name="Demo").replace(
        "weight: 2.0", f"weight: {literal}", 1
    )
    assert problems_of([("c.yaml", text.encode())]) == [
        f"c.yaml: categories[1].weight (Broadly ethical): must be finite and >= 0, got {shown}"
    ]


def test_empty_and_over_long_texts_are_refused() -> None:
    doc = export_doc()
    doc["principles"][0]["critique_request"] = "  "
    doc["principles"][1]["revision_request"] = "x" * 10_001
    doc["few_shots"][0]["critique"] = ""
    problems = problems_of([("c.json", json.dumps(doc).encode())])
    assert problems == [
        "c.json: principles[0].critique_request (dangerous-assistance): must not be empty when "
        "there is a revision request (give both requests, or neither for a labeller-only "
        "principle)",
        "c.json: principles[1].revision_request (people-at-risk): must be at most 10,000 characters, got 10,001",
        "c.json: few_shots[0].critique: must not be empty",
    ]


def test_duplicate_principle_keys_are_refused() -> None:
    doc = export_doc()
    doc["principles"][4]["key"] = "honesty"
    assert problems_of([("c.json", json.dumps(doc).encode())]) == [
        "c.json: principles[4].key (honesty): duplicate principle key; first used by principles[2]"
    ]


def test_duplicate_keys_inside_a_json_object_are_refused_with_the_position() -> None:
    text = export_json(DEMO_CONSTITUTION, name="Demo").replace(
        '"weight": 2.0,', '"weight": 2.0,\n      "weight": 9.0,', 1
    )
    line = text.splitlines().index('      "weight": 9.0,') + 1
    (problem,) = problems_of([("c.json", text.encode())])
    assert problem.startswith("c.json: duplicate key 'weight' in the object starting at line ")
    start_line = int(problem.split("line ")[1].split(",")[0])
    assert 0 < line - start_line <= 4


def test_duplicate_keys_inside_a_yaml_mapping_are_refused_with_the_position() -> None:
    text = "format: cai_web.constitution\nschema_version: 1\nname: A\nname: B\ncategories: []\nprinciples: []\n"
    assert problems_of([("c.yaml", text.encode())]) == [
        "c.yaml: duplicate key 'name' at line 4, column 1"
    ]


def test_yaml_aliases_are_refused() -> None:
    text = "format: cai_web.constitution\nschema_version: 1\nname: &n A\ndescription: *n\ncategories: []\nprinciples: []\n"
    (problem,) = problems_of([("c.yaml", text.encode())])
    assert problem.startswith(
        "c.yaml: malformed YAML at line 4, column 14: aliases (*name) are not allowed"
    )


def test_files_over_one_megabyte_are_refused_before_parsing() -> None:
    data = b"[" + b" " * MAX_IMPORT_BYTES + b"]"
    assert problems_of([("big.json", data)]) == [
        "big.json: file is 1,000,002 bytes; the limit is 1,000,000 bytes"
    ]


def test_non_utf8_bytes_are_reported_with_their_offset() -> None:
    data = export_json(DEMO_CONSTITUTION, name="Demo").encode()
    data = data[:40] + b"\xff" + data[41:]
    assert problems_of([("c.json", data)]) == [
        "c.json: not valid UTF-8: byte 0xff at byte offset 40"
    ]


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    data = "\ufeff".encode() + export_json(DEMO_CONSTITUTION, name="Demo").encode()
    assert import_constitution([("c.json", data)]).content == DEMO_CONSTITUTION


@pytest.mark.parametrize(
    "data", [b'{"hello": "world"}', b"[1, 2, 3]", b"just some words", b"", b"{}"]
)
def test_an_unrecognised_format_is_refused(data: bytes) -> None:
    (problem,) = problems_of([("thing.txt", data)])
    assert problem.startswith("thing.txt: unrecognised format: expected a cai_web export")


def test_problems_from_several_files_come_in_one_error() -> None:
    problems = problems_of(
        [
            ("a.json", b"{oops"),
            ("b.yaml", b"\xc3\x28"),
            ("c.json", b"[" + b" " * MAX_IMPORT_BYTES + b"]"),
        ]
    )
    assert [p.split(":")[0] for p in problems] == ["a.json", "b.yaml", "c.json"]
    assert "byte offset 0" in problems[1]


def test_our_export_must_come_alone() -> None:
    text = export_json(DEMO_CONSTITUTION, name="Demo").encode()
    with pytest.raises(
        FormatError, match="a cai_web export must be imported on its own, got 2 files"
    ):
        import_constitution([("a.json", text), ("b.json", text)])


def test_no_files_and_bad_pairs_are_refused() -> None:
    with pytest.raises(FormatError, match="no files given"):
        import_constitution([])
    assert problems_of([("a.json", "text, not bytes")]) == [  # type: ignore[list-item]
        "files[0]: must be a (file name, bytes) pair"
    ]


def test_format_error_lists_every_problem_in_its_message() -> None:
    error = FormatError(["first", "second"])
    assert str(error) == "cannot import constitution (2 problems):\n- first\n- second"
    assert str(FormatError("only")) == "cannot import constitution: only"
    assert isinstance(error, ValueError)


def test_the_example_in_the_format_document_imports() -> None:
    text = (REPO / "docs" / "constitution-format.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    imported = import_constitution([("example.yaml", example.encode())])
    assert imported.name == "Tiny example"
    assert [p.key for p in imported.content.principles] == [
        "no-weapons-help",
        "answer-directly",
        "kinder-reply",
    ]
    assert imported.content.principle("kinder-reply").role == "labeller only"
