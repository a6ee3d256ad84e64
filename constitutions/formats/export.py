"""Export of a version as cai_web JSON or YAML."""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from typing import Any

import yaml

from constitutions.content import (
    SCHEMA_VERSION,
    ConstitutionContent,
    ContentError,
    validate_content,
)

from .common import FORMAT_ID


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
    document: dict[str, Any] = {
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
    if "test_cases" in body:
        document["test_cases"] = body["test_cases"]
    return document


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
