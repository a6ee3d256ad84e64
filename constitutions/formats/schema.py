"""The JSON Schema of a cai_web export, built from ``constitutions.content.LIMITS``.

``docs/constitution.schema.json`` is this schema written out by
``manage.py constitution_schema --write``; the importer checks files against
:func:`constitution_schema` itself, so the file in docs can only be stale, never
disagree with what the import does (a test keeps it fresh).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from constitutions.content import (
    CASE_CHOICES,
    CASE_KINDS,
    FEW_SHOT_FIELDS,
    LIMITS,
    READABLE_SCHEMA_VERSIONS,
    SCHEMA_VERSION,
)

from .common import FORMAT_ID, SCHEMA_PATH

_SCHEMA_ID = "https://cai-web.invalid/schemas/constitution.schema.json"
_NOT_BLANK = "\\S"


def _text(max_length: int, *, required: bool, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if required:
        schema.update(minLength=1, maxLength=max_length, pattern=_NOT_BLANK)
    else:
        schema["maxLength"] = max_length
    return {**schema, **extra}


def constitution_schema() -> dict[str, Any]:
    """The export format as a JSON Schema (draft 2020-12) dict, limits from ``LIMITS``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _SCHEMA_ID,
        "title": "cai_web constitution export",
        "description": (
            f"One constitution version as exported by cai_web (format {FORMAT_ID}, schema "
            f"version {SCHEMA_VERSION}). Generated from constitutions/content/limits.py by "
            "`manage.py constitution_schema --write`; see docs/constitution-format.md."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "schema_version", "name", "categories", "principles"],
        "properties": {
            "format": {
                "const": FORMAT_ID,
                "description": "Marks the file as a cai_web constitution export.",
            },
            "schema_version": {
                "enum": list(READABLE_SCHEMA_VERSIONS),
                "description": (
                    f"Version of this schema; an export writes {SCHEMA_VERSION}. Readers refuse "
                    "versions they do not know; every earlier version's file is a valid file "
                    "of this one."
                ),
            },
            "name": _text(
                LIMITS.constitution_name, required=True, description="The constitution's name."
            ),
            "description": _text(
                LIMITS.text, required=False, description="Free text about the constitution."
            ),
            "version": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": (
                    "The version number it had in the exporting workspace; informational."
                ),
            },
            "content_hash": {
                "type": ["string", "null"],
                "pattern": "^[0-9a-f]{64}$",
                "description": (
                    "sha256 of the canonical JSON of the content "
                    "(schema_version, categories, principles, few_shots)."
                ),
            },
            "categories": {"type": "array", "items": {"$ref": "#/$defs/category"}},
            "principles": {"type": "array", "items": {"$ref": "#/$defs/principle"}},
            "few_shots": {"type": "array", "items": {"$ref": "#/$defs/few_shot"}},
            "test_cases": {
                "type": "array",
                "items": {"$ref": "#/$defs/test_case"},
                "description": "Principle test cases (schema version 2); in display order.",
            },
        },
        "$defs": {
            "text": _text(LIMITS.text, required=True),
            "weight": {
                "type": "number",
                "minimum": 0,
                "maximum": LIMITS.weight_max,
                "description": (
                    "A finite number >= 0 (NaN and infinities are refused by the reader)."
                ),
            },
            "category": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": _text(LIMITS.category_name, required=True),
                    "description": _text(LIMITS.text, required=False),
                    "weight": {"$ref": "#/$defs/weight", "default": 1.0},
                    "priority": {
                        "type": "integer",
                        "minimum": LIMITS.priority_min,
                        "maximum": LIMITS.priority_max,
                        "default": 100,
                        "description": "Conflict rank: a lower number wins.",
                    },
                },
            },
            "principle": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "category"],
                "description": (
                    "critique_request and revision_request together (critique-revision), "
                    "comparison_question (the AI labeller), or both; the reader refuses a "
                    "principle with neither, or with only one of the two requests."
                ),
                "properties": {
                    "key": {"type": "string", "pattern": f"^{LIMITS.key_pattern}$"},
                    # No length here: a category name too long is reported once, on the
                    # category; this only has to name one of them ("unknown category").
                    "category": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The name of a category in this file.",
                    },
                    "critique_request": _text(LIMITS.text, required=False, default=""),
                    "revision_request": _text(LIMITS.text, required=False, default=""),
                    "comparison_question": _text(LIMITS.text, required=False, default=""),
                    "weight": {"$ref": "#/$defs/weight", "default": 1.0},
                    "enabled": {"type": "boolean", "default": True},
                },
            },
            "few_shot": {
                "type": "object",
                "additionalProperties": False,
                "required": list(FEW_SHOT_FIELDS),
                "properties": {name: {"$ref": "#/$defs/text"} for name in FEW_SHOT_FIELDS},
            },
            "test_case": {
                "type": "object",
                "additionalProperties": False,
                "required": ["principle", "kind", "prompt"],
                "description": (
                    "A labeller case fills response_a, response_b and preferred; a policy "
                    "case fills reference and must and/or must_not. The other kind's fields "
                    "stay empty."
                ),
                "properties": {
                    "principle": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The key of a principle in this file.",
                    },
                    "kind": {"enum": list(CASE_KINDS)},
                    "prompt": {"$ref": "#/$defs/text"},
                    "response_a": _text(LIMITS.text, required=False, default=""),
                    "response_b": _text(LIMITS.text, required=False, default=""),
                    "preferred": {
                        "enum": [*CASE_CHOICES, ""],
                        "default": "",
                        "description": "The response the principle should prefer.",
                    },
                    "must": _text(LIMITS.text, required=False, default=""),
                    "must_not": _text(LIMITS.text, required=False, default=""),
                    "reference": _text(LIMITS.text, required=False, default=""),
                },
            },
        },
    }


def schema_text() -> str:
    """The schema as the text committed in docs (two-space indent, trailing newline)."""
    return json.dumps(constitution_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema() -> bool:
    """Write the schema to docs/constitution.schema.json; return whether it changed."""
    text = schema_text()
    if SCHEMA_PATH.exists() and SCHEMA_PATH.read_text(encoding="utf-8") == text:
        return False
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    return True


@cache
def schema_validator() -> Any:
    """A checked Draft 2020-12 validator of :func:`constitution_schema` (built once)."""
    import jsonschema

    schema = constitution_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


__all__ = ["constitution_schema", "schema_text", "schema_validator", "write_schema"]
