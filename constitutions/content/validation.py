"""Semantic checks of constitution content, every problem reported as one path-prefixed line."""

from __future__ import annotations

import math
from typing import Any

from .limits import KEY_PATTERN, LIMITS, MAX_NAME, MAX_TEXT
from .specs import _FEW_SHOT_FIELDS, ConstitutionContent

# --- validation ---------------------------------------------------------------------------


def _fmt(path: str, label: str | None, message: str) -> str:
    return f"{path} ({label}): {message}" if label else f"{path}: {message}"


def _check_weight(path: str, label: str | None, weight: Any, out: list[str]) -> None:
    try:
        value = float(weight)
    except (TypeError, ValueError, OverflowError):
        out.append(_fmt(path, label, f"must be a number, got {weight!r}"))
        return
    if isinstance(weight, bool) or not math.isfinite(value) or value < 0:
        out.append(_fmt(path, label, f"must be finite and >= 0, got {weight!r}"))
    elif value > LIMITS.weight_max:
        out.append(_fmt(path, label, f"must be at most {LIMITS.weight_max:,.0f}, got {weight!r}"))


def _check_priority(path: str, label: str | None, priority: Any, out: list[str]) -> None:
    if isinstance(priority, bool) or not isinstance(priority, int):
        out.append(_fmt(path, label, f"must be an integer, got {priority!r}"))
    elif not LIMITS.priority_min <= priority <= LIMITS.priority_max:
        out.append(
            _fmt(
                path,
                label,
                f"must be an integer from {LIMITS.priority_min} to {LIMITS.priority_max:,}, "
                f"got {priority if abs(priority) < 10**30 else 'a larger number'}",
            )
        )


def _check_text(
    path: str, label: str | None, text: Any, out: list[str], *, required: bool, limit: int
) -> None:
    if not isinstance(text, str):
        out.append(_fmt(path, label, f"must be text, got {type(text).__name__}"))
        return
    if required and not text.strip():
        out.append(_fmt(path, label, "must not be empty"))
    if len(text) > limit:
        out.append(_fmt(path, label, f"must be at most {limit:,} characters, got {len(text):,}"))


def validate_content(content: ConstitutionContent) -> list[str]:
    """Return every problem with ``content`` as a message naming its field path; [] if valid."""
    out: list[str] = []
    seen_categories: dict[str, int] = {}
    for i, c in enumerate(content.categories):
        path = f"categories[{i}]"
        label = c.name if isinstance(c.name, str) and c.name.strip() else None
        _check_text(f"{path}.name", None, c.name, out, required=True, limit=MAX_NAME)
        _check_text(
            f"{path}.description", label, c.description, out, required=False, limit=MAX_TEXT
        )
        _check_weight(f"{path}.weight", label, c.weight, out)
        _check_priority(f"{path}.priority", label, c.priority, out)
        if label is not None:
            if label in seen_categories:
                first = seen_categories[label]
                out.append(
                    _fmt(
                        f"{path}.name",
                        label,
                        f"duplicate category name; first used by categories[{first}]",
                    )
                )
            else:
                seen_categories[label] = i

    seen_keys: dict[str, int] = {}
    for i, p in enumerate(content.principles):
        path = f"principles[{i}]"
        label = p.key if isinstance(p.key, str) and p.key else None
        if not isinstance(p.key, str) or not p.key:
            out.append(_fmt(f"{path}.key", None, "must not be empty"))
        elif not KEY_PATTERN.fullmatch(p.key):
            out.append(
                _fmt(
                    f"{path}.key",
                    label,
                    f"must be a lowercase slug of 1-{LIMITS.principle_key} characters "
                    "from a-z, 0-9, '_' and '-'",
                )
            )
        elif p.key in seen_keys:
            out.append(
                _fmt(
                    f"{path}.key",
                    label,
                    f"duplicate principle key; first used by principles[{seen_keys[p.key]}]",
                )
            )
        else:
            seen_keys[p.key] = i
        if not isinstance(p.category, str) or not p.category.strip():
            out.append(_fmt(f"{path}.category", label, "must not be empty"))
        elif p.category not in seen_categories:
            out.append(_fmt(f"{path}.category", label, f"unknown category {p.category!r}"))
        _check_text(
            f"{path}.critique_request",
            label,
            p.critique_request,
            out,
            required=True,
            limit=MAX_TEXT,
        )
        _check_text(
            f"{path}.revision_request",
            label,
            p.revision_request,
            out,
            required=True,
            limit=MAX_TEXT,
        )
        _check_text(
            f"{path}.comparison_question",
            label,
            p.comparison_question,
            out,
            required=False,
            limit=MAX_TEXT,
        )
        _check_weight(f"{path}.weight", label, p.weight, out)
        if not isinstance(p.enabled, bool):
            out.append(_fmt(f"{path}.enabled", label, f"must be true or false, got {p.enabled!r}"))

    for i, s in enumerate(content.few_shots):
        for field in _FEW_SHOT_FIELDS:
            _check_text(
                f"few_shots[{i}].{field}",
                None,
                getattr(s, field),
                out,
                required=True,
                limit=MAX_TEXT,
            )
    return out
