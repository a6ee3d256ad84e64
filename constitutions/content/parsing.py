"""Building content from its dict form: field names and types first, then ``validate_content``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .specs import (
    _CASE_FIELDS,
    _CATEGORY_FIELDS,
    _FEW_SHOT_FIELDS,
    _PRINCIPLE_FIELDS,
    _TOP_FIELDS,
    READABLE_SCHEMA_VERSIONS,
    CaseSpec,
    CategorySpec,
    ConstitutionContent,
    ContentError,
    FewShotSpec,
    PrincipleSpec,
)
from .validation import validate_content

# --- from_dict ----------------------------------------------------------------------------

_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\[\].]*")


def problem_path(problem: str) -> str:
    """Return the field path a problem message starts with (e.g. ``principles[2].weight``)."""
    m = _PATH_RE.match(problem)
    return m.group(0) if m else ""


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_keys(
    path: str, obj: Mapping[Any, Any], allowed: tuple[str, ...], required: tuple[str, ...]
) -> list[str]:
    out = []
    for k in obj:
        if k not in allowed:
            out.append(
                f"{path}: unknown field {k!r} (allowed: {', '.join(allowed)})"
                if path
                else f"{k}: unknown field (allowed: {', '.join(allowed)})"
            )
    for k in required:
        if k not in obj:
            out.append(
                f"{path}.{k}: required field is missing"
                if path
                else f"{k}: required field is missing"
            )
    return out


def _get_str(obj: Mapping[str, Any], key: str, path: str, bad: list[str]) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        bad.append(f"{path}.{key}: must be text, got {_type_name(value)}")
        return ""
    return value


def _get_number(obj: Mapping[str, Any], key: str, path: str, bad: list[str]) -> float:
    value = obj.get(key, 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        bad.append(f"{path}.{key}: must be a number, got {_type_name(value)}")
        return 1.0
    try:
        return float(value)
    except OverflowError:
        bad.append(f"{path}.{key}: must be finite and >= 0, got a number too large to represent")
        return 1.0


def _get_list(d: Mapping[str, Any], key: str, bad: list[str]) -> list[Any]:
    value = d.get(key, [])
    if not isinstance(value, list | tuple):
        bad.append(f"{key}: must be a list, got {_type_name(value)}")
        return []
    return list(value)


_ITEM_RE = re.compile(r"^(categories|principles)\[\d+\]")


def _label_problem(problem: str, labels: dict[str, str]) -> str:
    path = problem_path(problem)
    item = _ITEM_RE.match(path)
    if item and item.group(0) in labels and problem[len(path) : len(path) + 1] == ":":
        return f"{path} ({labels[item.group(0)]}){problem[len(path) :]}"
    return problem


def content_from_dict(d: Any) -> ConstitutionContent:
    """Build content from its canonical dict form, raising ContentError listing every problem.

    Checks field names and types first, then runs ``validate_content``; a field
    already reported for its type is not reported again by the later checks.
    """
    content, problems = _from_dict(d)
    if problems:
        raise ContentError(problems)
    assert content is not None
    return content


def _from_dict(d: Any) -> tuple[ConstitutionContent | None, list[str]]:
    if not isinstance(d, Mapping):
        return None, [f"(top level): must be an object, got {_type_name(d)}"]
    bad: list[str] = _check_keys("", d, _TOP_FIELDS, ("schema_version",))
    if "schema_version" in d and (
        isinstance(d["schema_version"], bool) or d["schema_version"] not in READABLE_SCHEMA_VERSIONS
    ):
        readable = ", ".join(map(str, READABLE_SCHEMA_VERSIONS))
        bad.append(
            f"schema_version: unsupported schema version {d['schema_version']!r} "
            f"(this program reads versions {readable})"
        )

    categories = []
    for i, item in enumerate(_get_list(d, "categories", bad)):
        path = f"categories[{i}]"
        if not isinstance(item, Mapping):
            bad.append(f"{path}: must be an object, got {_type_name(item)}")
            continue
        bad += _check_keys(path, item, _CATEGORY_FIELDS, ("name",))
        priority = item.get("priority", 100)
        if isinstance(priority, bool) or not isinstance(priority, int):
            bad.append(f"{path}.priority: must be an integer, got {_type_name(priority)}")
            priority = 100
        categories.append(
            CategorySpec(
                name=_get_str(item, "name", path, bad),
                description=_get_str(item, "description", path, bad),
                weight=_get_number(item, "weight", path, bad),
                priority=priority,
            )
        )

    principles = []
    for i, item in enumerate(_get_list(d, "principles", bad)):
        path = f"principles[{i}]"
        if not isinstance(item, Mapping):
            bad.append(f"{path}: must be an object, got {_type_name(item)}")
            continue
        bad += _check_keys(
            path,
            item,
            _PRINCIPLE_FIELDS,
            ("key", "category"),
        )
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            bad.append(f"{path}.enabled: must be true or false, got {_type_name(enabled)}")
            enabled = True
        principles.append(
            PrincipleSpec(
                key=_get_str(item, "key", path, bad),
                category=_get_str(item, "category", path, bad),
                critique_request=_get_str(item, "critique_request", path, bad),
                revision_request=_get_str(item, "revision_request", path, bad),
                comparison_question=_get_str(item, "comparison_question", path, bad),
                weight=_get_number(item, "weight", path, bad),
                enabled=enabled,
            )
        )

    few_shots = []
    for i, item in enumerate(_get_list(d, "few_shots", bad)):
        path = f"few_shots[{i}]"
        if not isinstance(item, Mapping):
            bad.append(f"{path}: must be an object, got {_type_name(item)}")
            continue
        bad += _check_keys(path, item, _FEW_SHOT_FIELDS, _FEW_SHOT_FIELDS)
        few_shots.append(FewShotSpec(**{f: _get_str(item, f, path, bad) for f in _FEW_SHOT_FIELDS}))

    test_cases = []
    for i, item in enumerate(_get_list(d, "test_cases", bad)):
        path = f"test_cases[{i}]"
        if not isinstance(item, Mapping):
            bad.append(f"{path}: must be an object, got {_type_name(item)}")
            continue
        bad += _check_keys(path, item, _CASE_FIELDS, ("principle", "kind", "prompt"))
        texts = {f: _get_str(item, f, path, bad) for f in _CASE_FIELDS}
        test_cases.append(
            CaseSpec(
                principle=texts["principle"],
                kind=texts["kind"],
                prompt=texts["prompt"],
                response_a=texts["response_a"],
                response_b=texts["response_b"],
                preferred=texts["preferred"],
                must=texts["must"],
                must_not=texts["must_not"],
                reference=texts["reference"],
            )
        )
    if test_cases and d.get("schema_version") == 1:
        bad.append("test_cases: needs schema_version 2 (version 1 files have no test cases)")

    # Name the category or principle in shape problems too, as validate_content does.
    labels = {}
    for section, field in (("categories", "name"), ("principles", "key")):
        for i, item in enumerate(_get_list(d, section, [])):
            if isinstance(item, Mapping) and isinstance(item.get(field), str) and item[field]:
                labels[f"{section}[{i}]"] = item[field]
    bad = [_label_problem(p, labels) for p in bad]

    content = ConstitutionContent(
        tuple(categories), tuple(principles), tuple(few_shots), tuple(test_cases)
    )
    # A field already reported for its shape or type would only be reported again
    # (e.g. a missing text as "must not be empty"), so later checks skip it.
    reported = {problem_path(p) for p in bad}
    problems = bad + [p for p in validate_content(content) if problem_path(p) not in reported]
    # Skipped (non-object) items shift indices, so only a clean parse is returned.
    if problems:
        return None, problems
    return content, []
