"""Format detection and the import entry point; the cai_web format itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from constitutions.content import ContentError, content_from_dict, problem_path

from .common import (
    _CAI_WEB,
    _LLM_SWARM,
    _MAX_MESSAGE,
    FORMAT_ID,
    FormatError,
    ImportedConstitution,
    _kind_of,
)
from .foreign import _import_cai_paper, _import_llm_swarm
from .parsing import _decode, _parse
from .schema import schema_validator

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


def _import_cai_web(filename: str, doc: Any) -> ImportedConstitution:
    schema_problems = [
        (_json_path(err.absolute_path), _truncate(err.message))
        for err in schema_validator().iter_errors(doc)
    ]
    content_problems: list[str] = []
    content = None
    if isinstance(doc, dict):
        body = {
            k: doc[k]
            for k in ("schema_version", "categories", "principles", "few_shots", "test_cases")
            if k in doc
        }
        try:
            content = content_from_dict(body)
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
