"""Export constitutions as JSON or YAML, and import them from ours and two foreign formats.

Formats (docs/constitution-format.md):

* ``cai_web``: our own export, JSON or YAML, checked against
  docs/constitution.schema.json and then by ``validate_content``.
* ``cai_paper``: the Constitutional AI paper's prompt files
  (CritiqueRevisionInstructions.json, optionally RLMadisonInstructions.json and
  the two *FewShotPrompts.json files).
* ``llm_swarm``: Hugging Face llm-swarm's ``{"constitutions": [...], "system_chat": [...]}``.

Import is all or nothing: every problem in every file is collected into one
FormatError and nothing is returned.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from constitutions.content import (
    SCHEMA_VERSION,
    CategorySpec,
    ConstitutionContent,
    ContentError,
    FewShotSpec,
    PrincipleSpec,
    problem_path,
    validate_content,
)

FORMAT_ID = "cai_web.constitution"
MAX_IMPORT_BYTES = 1_000_000
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "constitution.schema.json"
IMPORTED_CATEGORY = "Imported"
_MAX_MESSAGE = 300


class FormatError(ValueError):
    """A constitution file cannot be imported; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems: list[str] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"cannot import constitution: {self.problems[0]}"
        lines = "\n".join(f"- {p}" for p in self.problems)
        return f"cannot import constitution ({len(self.problems)} problems):\n{lines}"


@dataclass(frozen=True)
class ImportedConstitution:
    """The result of a successful import; ``warnings`` lists what was dropped or odd."""

    name: str
    description: str
    content: ConstitutionContent
    source_format: str  # "cai_web" | "cai_paper" | "llm_swarm"
    warnings: tuple[str, ...] = ()


# --- export -------------------------------------------------------------------------------


def _export_document(
    content: ConstitutionContent,
    *,
    name: str,
    description: str,
    version: int | None,
    content_hash: str | None,
) -> dict[str, Any]:
    problems = []
    if not isinstance(name, str) or not name.strip():
        problems.append("name: must not be empty")
    if not isinstance(description, str):
        problems.append("description: must be text")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        problems.append(f"version: must be a positive integer or None, got {version!r}")
    actual = content.content_hash()
    if content_hash is not None and content_hash != actual:
        problems.append(
            f"content_hash: {content_hash!r} does not match the content (its hash is {actual})"
        )
    if problems:
        raise ValueError("cannot export constitution: " + "; ".join(problems))
    # An invalid constitution would export to a file that cannot be imported again.
    content_problems = validate_content(content)
    if content_problems:
        raise ContentError(content_problems)
    body = content.to_dict()
    return {
        "format": FORMAT_ID,
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "description": description,
        "version": version,
        "content_hash": actual,
        "categories": body["categories"],
        "principles": body["principles"],
        "few_shots": body["few_shots"],
    }


def export_json(
    content: ConstitutionContent,
    *,
    name: str,
    description: str = "",
    version: int | None = None,
    content_hash: str | None = None,
) -> str:
    """Export as indented JSON (unicode kept as is). ``content_hash``, if given, must match."""
    doc = _export_document(
        content, name=name, description=description, version=version, content_hash=content_hash
    )
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


class _ExportDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line text as literal blocks for people to read."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style on its own when a block cannot hold the
    # text exactly (trailing spaces, special characters), so this never loses data.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_ExportDumper.add_representer(str, _represent_str)


def export_yaml(
    content: ConstitutionContent,
    *,
    name: str,
    description: str = "",
    version: int | None = None,
    content_hash: str | None = None,
) -> str:
    """Export as YAML with the same fields as ``export_json``, in the same order."""
    doc = _export_document(
        content, name=name, description=description, version=version, content_hash=content_hash
    )
    return yaml.dump(doc, Dumper=_ExportDumper, sort_keys=False, allow_unicode=True, width=100)


# --- parsing with positions ---------------------------------------------------------------


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


class _StrictJSONDecoder(json.JSONDecoder):
    """A JSON decoder that records duplicate object keys with the object's position.

    The C scanner ignores a custom ``parse_object``, so this uses the pure-Python
    scanner; imports are capped at 1 MB, where its speed does not matter.
    """

    def __init__(self, filename: str, problems: list[str]) -> None:
        super().__init__()
        self._filename = filename
        self._problems = problems
        self.parse_object = self._parse_object
        self.scan_once = json.scanner.py_make_scanner(self)

    def _parse_object(
        self,
        s_and_end: tuple[str, int],
        strict: bool,
        scan_once: Any,
        object_hook: Any,
        object_pairs_hook: Any,
        memo: Any = None,
    ) -> tuple[dict[str, Any], int]:
        s, end = s_and_end
        pairs, new_end = json.decoder.JSONObject(
            s_and_end, strict, scan_once, None, lambda p: p, memo
        )
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                line, col = _line_col(s, end - 1)
                self._problems.append(
                    f"{self._filename}: duplicate key {key!r} in the object starting at "
                    f"line {line}, column {col}"
                )
            seen.add(key)
        return dict(pairs), new_end


def _parse_json(filename: str, text: str, problems: list[str]) -> Any:
    try:
        return _StrictJSONDecoder(filename, problems).decode(text)
    except json.JSONDecodeError as exc:
        problems.append(
            f"{filename}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        )
    except RecursionError:
        problems.append(f"{filename}: JSON is nested too deeply")
    return None


class _StrictYAMLLoader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys and refuses aliases.

    Aliases are refused because an export never uses them and a few nested ones
    can expand into an enormous document.
    """

    problems: list[str]
    filename: str

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key fails below with yaml's own message
            if duplicate:
                mark = key_node.start_mark
                self.problems.append(
                    f"{self.filename}: duplicate key {key!r} at line {mark.line + 1}, "
                    f"column {mark.column + 1}"
                )
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(filename: str, text: str, problems: list[str]) -> Any:
    loader = _StrictYAMLLoader(text)
    loader.problems = problems
    loader.filename = filename
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(f"{filename}: malformed YAML{where}: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        problems.append(f"{filename}: malformed YAML: {exc}")
    except RecursionError:
        problems.append(f"{filename}: YAML is nested too deeply")
    finally:
        loader.dispose()
    return None


def _decode(filename: str, data: bytes, problems: list[str]) -> str | None:
    if len(data) > MAX_IMPORT_BYTES:
        problems.append(
            f"{filename}: file is {len(data):,} bytes; the limit is {MAX_IMPORT_BYTES:,} bytes"
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            f"{filename}: not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start}"
        )
        return None
    return text.removeprefix("\ufeff")


def _parse(filename: str, text: str, problems: list[str]) -> Any:
    suffix = Path(filename).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(filename, text, problems)
    if suffix == ".json" or text.lstrip()[:1] in ("{", "["):
        return _parse_json(filename, text, problems)
    return _parse_yaml(filename, text, problems)


# --- format detection ---------------------------------------------------------------------

_CAI_WEB = "cai_web"
_CRITIQUE_INSTRUCTIONS = "critique_instructions"
_MADISON_INSTRUCTIONS = "madison_instructions"
_CRITIQUE_FEW_SHOTS = "critique_few_shots"
_MADISON_FEW_SHOTS = "madison_few_shots"
_LLM_SWARM = "llm_swarm"

_PAPER_KINDS = {
    _CRITIQUE_INSTRUCTIONS: "CritiqueRevisionInstructions.json",
    _MADISON_INSTRUCTIONS: "RLMadisonInstructions.json",
    _CRITIQUE_FEW_SHOTS: "CritiqueRevisionFewShotPrompts.json",
    _MADISON_FEW_SHOTS: "RLMadisonFewShotPrompts.json",
}


def _kind_of(doc: Any) -> str | None:
    """Recognise a parsed file by its shape (file names are only used in messages)."""
    if isinstance(doc, dict):
        if "format" in doc or ("schema_version" in doc and "principles" in doc):
            return _CAI_WEB
        if "constitutions" in doc:
            return _LLM_SWARM
        if doc and all(isinstance(v, dict) and "edit_request" in v for v in doc.values()):
            return _CRITIQUE_INSTRUCTIONS
        return None
    if isinstance(doc, list) and doc:
        if all(isinstance(x, str) for x in doc):
            if any("CritiqueRequest:" in x for x in doc):
                return _CRITIQUE_FEW_SHOTS
            return _MADISON_INSTRUCTIONS
        if all(isinstance(x, dict) and "corrects" in x for x in doc):
            return _MADISON_FEW_SHOTS
    return None


_UNRECOGNISED = (
    "unrecognised format: expected a cai_web export (JSON or YAML with "
    f'"format": "{FORMAT_ID}"), the CAI paper\'s CritiqueRevisionInstructions.json '
    "(optionally with RLMadisonInstructions.json and the *FewShotPrompts.json files), or an "
    'llm-swarm file with "constitutions" and "system_chat"'
)


def import_constitution(files: list[tuple[str, bytes]]) -> ImportedConstitution:
    """Import a constitution from uploaded files, detecting the format from their contents.

    ``files`` holds (file name, raw bytes) pairs. Raises FormatError listing every
    problem in every file; on success nothing is left half-imported because nothing
    is written here at all.
    """
    problems: list[str] = []
    if not isinstance(files, list | tuple) or not files:
        raise FormatError("no files given")
    parsed: list[tuple[str, Any]] = []
    for i, item in enumerate(files):
        if (
            not isinstance(item, tuple | list)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not isinstance(item[1], bytes | bytearray)
        ):
            problems.append(f"files[{i}]: must be a (file name, bytes) pair")
            continue
        filename, data = item[0] or f"file {i + 1}", bytes(item[1])
        text = _decode(filename, data, problems)
        if text is None:
            continue
        before = len(problems)
        doc = _parse(filename, text, problems)
        if len(problems) == before:
            parsed.append((filename, doc))
    if problems:
        raise FormatError(problems)

    kinds: dict[str, list[tuple[str, Any]]] = {}
    for filename, doc in parsed:
        kind = _kind_of(doc)
        if kind is None:
            problems.append(f"{filename}: {_UNRECOGNISED}")
        else:
            kinds.setdefault(kind, []).append((filename, doc))
    if problems:
        raise FormatError(problems)

    for kind in (_CAI_WEB, _LLM_SWARM):
        if kind in kinds and len(parsed) > 1:
            names = ", ".join(f for f, _ in parsed)
            label = "a cai_web export" if kind == _CAI_WEB else "an llm-swarm file"
            raise FormatError(
                f"{label} must be imported on its own, got {len(parsed)} files: {names}"
            )
    if _CAI_WEB in kinds:
        return _import_cai_web(*kinds[_CAI_WEB][0])
    if _LLM_SWARM in kinds:
        return _import_llm_swarm(*kinds[_LLM_SWARM][0])
    return _import_cai_paper(kinds)


def _truncate(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _json_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _related(a: str, b: str) -> bool:
    """True when one path is the other or lies inside it."""
    if not a or not b:
        return False
    for x, y in ((a, b), (b, a)):
        if x == y or y.startswith(x + ".") or y.startswith(x + "["):
            return True
    return False


@cache
def _schema_validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _import_cai_web(filename: str, doc: Any) -> ImportedConstitution:
    schema_problems = [
        (_json_path(err.absolute_path), _truncate(err.message))
        for err in _schema_validator().iter_errors(doc)
    ]
    content_problems: list[str] = []
    content = None
    if isinstance(doc, dict):
        body = {
            k: doc[k]
            for k in ("schema_version", "categories", "principles", "few_shots")
            if k in doc
        }
        try:
            content = ConstitutionContent.from_dict(body)
        except ContentError as exc:
            content_problems = exc.problems
    # The content checks name the principle and catch what a schema cannot (NaN,
    # duplicates, unknown categories), so they speak for the fields they cover; the
    # schema reports the rest (the envelope, and anything the content checks allow).
    content_paths = [problem_path(p) for p in content_problems]
    problems = [f"{filename}: {p}" for p in content_problems]
    for path, message in schema_problems:
        if any(_related(path, q) for q in content_paths):
            continue
        problems.append(f"{filename}: {path or '(top level)'}: {message}")
    if problems:
        raise FormatError(problems)
    assert content is not None
    warnings = []
    stated = doc.get("content_hash")
    if stated is not None and stated != content.content_hash():
        warnings.append(
            f"{filename}: content_hash {stated[:12]}... does not match the content "
            f"({content.short_hash}); the file was edited after export"
        )
    return ImportedConstitution(
        name=doc["name"].strip(),
        description=doc.get("description", ""),
        content=content,
        source_format="cai_web",
        warnings=tuple(warnings),
    )


# --- foreign formats ----------------------------------------------------------------------


def _imported_category(description: str) -> CategorySpec:
    return CategorySpec(name=IMPORTED_CATEGORY, description=description, weight=1.0, priority=100)


def _finish(
    filename: str,
    name: str,
    description: str,
    content: ConstitutionContent,
    source_format: str,
    problems: list[str],
    warnings: list[str],
    few_shot_file: str | None = None,
) -> ImportedConstitution:
    for p in validate_content(content):
        source = few_shot_file if few_shot_file and p.startswith("few_shots[") else filename
        problems.append(f"{source}: {p}")
    if problems:
        raise FormatError(problems)
    return ImportedConstitution(
        name=name,
        description=description,
        content=content,
        source_format=source_format,
        warnings=tuple(warnings),
    )


_SECTION_RE = re.compile(
    r"\n\n(Human|Assistant|CritiqueRequest|Critique|RevisionRequest|Revision):"
)


def _strip_framing(text: str, request: str | None, answer: str) -> str:
    """Turn '\\n\\nCritiqueRequest: X\\n\\nCritique:' into 'X'."""
    text = text.strip()
    if request:
        text = text.removeprefix(f"{request}:").strip()
    if text.endswith(f"{answer}:"):
        text = text[: -len(answer) - 1].rstrip()
    return text


def _few_shot_from_turns(
    turns: list[tuple[str, str]],
    critique_request: str,
    critique: str,
    revision_request: str,
    revision: str,
) -> FewShotSpec:
    """Build a few-shot from (speaker, text) dialogue turns ending in an assistant reply.

    A single exchange gives the human's text as the prompt; a longer dialogue gives
    the transcript up to the last reply ("Human: ...\\n\\nAssistant: ...\\n\\nHuman: ...").
    """
    *earlier, (_, response) = turns
    if len(earlier) == 1:
        prompt = earlier[0][1]
    else:
        prompt = "\n\n".join(f"{speaker}: {text}" for speaker, text in earlier)
    return FewShotSpec(
        prompt=prompt,
        response=response,
        critique_request=critique_request,
        critique=critique,
        revision_request=revision_request,
        revision=revision,
    )


def _paper_few_shot(text: str) -> FewShotSpec | str:
    """Parse one CritiqueRevisionFewShotPrompts dialogue, or return why it does not fit."""
    parts = _SECTION_RE.split("\n\n" + text.lstrip("\n"))
    if parts[0].strip():
        return "text before the first 'Human:' turn"
    sections = [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts), 2)]
    # The paper's dialogues end with an empty "Human:" that cues the next example.
    if sections and sections[-1] == ("Human", ""):
        sections.pop()
    tail = [s for s, _ in sections[-4:]]
    if tail != ["CritiqueRequest", "Critique", "RevisionRequest", "Revision"]:
        return "does not end with CritiqueRequest, Critique, RevisionRequest, Revision"
    dialogue = sections[:-4]
    speakers = [s for s, _ in dialogue]
    if (
        len(dialogue) < 2
        or len(dialogue) % 2
        or speakers != ["Human", "Assistant"] * (len(dialogue) // 2)
    ):
        return "the dialogue before the critique must alternate Human and Assistant turns"
    (_, cr), (_, c), (_, rr), (_, r) = sections[-4:]
    return _few_shot_from_turns(dialogue, cr, c, rr, r)


def _import_cai_paper(kinds: dict[str, list[tuple[str, Any]]]) -> ImportedConstitution:
    problems: list[str] = []
    warnings: list[str] = []
    for kind, found in kinds.items():
        if len(found) > 1:
            names = ", ".join(f for f, _ in found)
            problems.append(f"{names}: more than one {_PAPER_KINDS[kind]} file")
    if _CRITIQUE_INSTRUCTIONS not in kinds:
        given = ", ".join(f for found in kinds.values() for f, _ in found)
        problems.append(
            f"{given}: the CAI paper's format needs CritiqueRevisionInstructions.json "
            "(the critique and revision requests); the other files only add to it"
        )
    if problems:
        raise FormatError(problems)

    filename, doc = kinds[_CRITIQUE_INSTRUCTIONS][0]
    principles: list[PrincipleSpec] = []
    for key, entry in doc.items():
        unknown = sorted(set(map(str, entry)) - {"prompt", "edit_request"})
        if unknown:
            problems.append(f"{filename}: {key}: unknown field(s) {', '.join(unknown)}")
        prompt = entry.get("prompt")
        if isinstance(prompt, str):
            prompt = [prompt]
        if (
            not isinstance(prompt, list)
            or not prompt
            or not all(isinstance(x, str) for x in prompt)
        ):
            problems.append(
                f"{filename}: {key}.prompt: must be a list holding the critique request text"
            )
            continue
        if len(prompt) > 1:
            warnings.append(f"{filename}: {key}.prompt: has {len(prompt)} texts; kept the first")
        edit = entry.get("edit_request")
        if not isinstance(edit, str):
            problems.append(f"{filename}: {key}.edit_request: must be the revision request text")
            continue
        principles.append(
            PrincipleSpec(
                key=key,
                category=IMPORTED_CATEGORY,
                critique_request=_strip_framing(prompt[0], "CritiqueRequest", "Critique"),
                revision_request=_strip_framing(edit, "RevisionRequest", "Revision"),
            )
        )
    sources = [filename]

    if _MADISON_INSTRUCTIONS in kinds:
        m_name, m_doc = kinds[_MADISON_INSTRUCTIONS][0]
        sources.append(m_name)
        if len(m_doc) != len(doc):
            problems.append(
                f"{m_name}: has {len(m_doc)} comparison principles but {filename} has "
                f"{len(doc)} critique principles; they are paired by position, so the counts "
                f"must match (import without {m_name} to leave comparison questions empty)"
            )
        elif not problems:
            questions = [_strip_framing(q, None, "Options") for q in m_doc]
            principles = [
                PrincipleSpec(
                    key=p.key,
                    category=p.category,
                    critique_request=p.critique_request,
                    revision_request=p.revision_request,
                    comparison_question=q,
                )
                for p, q in zip(principles, questions, strict=True)
            ]

    few_shots: list[FewShotSpec] = []
    if _CRITIQUE_FEW_SHOTS in kinds:
        f_name, f_doc = kinds[_CRITIQUE_FEW_SHOTS][0]
        sources.append(f_name)
        for i, text in enumerate(f_doc):
            shot = _paper_few_shot(text)
            if isinstance(shot, str):
                problems.append(f"{f_name}: [{i}]: {shot}")
            else:
                few_shots.append(shot)
    if _MADISON_FEW_SHOTS in kinds:
        r_name, r_doc = kinds[_MADISON_FEW_SHOTS][0]
        warnings.append(
            f"{r_name}: its {len(r_doc)} preference examples (a prompt with a better and a "
            "worse reply) have no place in a constitution and were not imported"
        )

    content = ConstitutionContent(
        categories=(_imported_category("Imported from the CAI paper's prompt files."),),
        principles=tuple(principles),
        few_shots=tuple(few_shots),
    )
    return _finish(
        filename,
        "CAI paper constitution",
        "Imported from " + ", ".join(sources) + ".",
        content,
        "cai_paper",
        problems,
        warnings,
        few_shot_file=kinds[_CRITIQUE_FEW_SHOTS][0][0] if _CRITIQUE_FEW_SHOTS in kinds else None,
    )


def _swarm_few_shot(chat: Any) -> FewShotSpec | str:
    """Map one llm-swarm system_chat dialogue to a few-shot, or return why it does not fit."""
    if not isinstance(chat, list) or not all(
        isinstance(m, dict) and set(m) == {"role", "content"} and isinstance(m["content"], str)
        for m in chat
    ):
        return 'must be a list of {"role", "content"} messages'
    roles = [m["role"] for m in chat]
    if len(chat) < 6 or len(chat) % 2 or roles != ["user", "assistant"] * (len(chat) // 2):
        return (
            "must alternate user and assistant messages: the dialogue, then the critique "
            "request, critique, revision request and revision"
        )
    speakers = {"user": "Human", "assistant": "Assistant"}
    turns = [(speakers[m["role"]], m["content"].strip()) for m in chat]
    (_, cr), (_, c), (_, rr), (_, r) = turns[-4:]
    return _few_shot_from_turns(turns[:-4], cr, c, rr, r)


def _import_llm_swarm(filename: str, doc: dict[str, Any]) -> ImportedConstitution:
    problems: list[str] = []
    unknown = sorted(set(map(str, doc)) - {"constitutions", "system_chat"})
    if unknown:
        problems.append(f"{filename}: unknown field(s) {', '.join(unknown)}")
    items = doc.get("constitutions")
    if not isinstance(items, list):
        problems.append(f"{filename}: constitutions: must be a list")
        items = []
    principles = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{filename}: constitutions[{i}]: must be an object")
            continue
        extra = sorted(set(map(str, item)) - {"critic", "revision"})
        if extra:
            problems.append(f"{filename}: constitutions[{i}]: unknown field(s) {', '.join(extra)}")
        missing = [k for k in ("critic", "revision") if not isinstance(item.get(k), str)]
        if missing:
            problems.append(
                f"{filename}: constitutions[{i}]: {' and '.join(missing)} must be present as text"
            )
            continue
        principles.append(
            PrincipleSpec(
                key=f"harmful{i}",
                category=IMPORTED_CATEGORY,
                critique_request=item["critic"].strip(),
                revision_request=item["revision"].strip(),
            )
        )
    chats = doc.get("system_chat", [])
    if not isinstance(chats, list):
        problems.append(f"{filename}: system_chat: must be a list")
        chats = []
    few_shots = []
    for i, chat in enumerate(chats):
        shot = _swarm_few_shot(chat)
        if isinstance(shot, str):
            problems.append(f"{filename}: system_chat[{i}]: {shot}")
        else:
            few_shots.append(shot)
    content = ConstitutionContent(
        categories=(_imported_category(f"Imported from llm-swarm's {filename}."),),
        principles=tuple(principles),
        few_shots=tuple(few_shots),
    )
    return _finish(
        filename,
        Path(filename).stem or "llm-swarm constitution",
        f"Imported from llm-swarm's {filename}.",
        content,
        "llm_swarm",
        problems,
        [],
    )
