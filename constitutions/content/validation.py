"""Semantic checks of constitution content, every problem reported as one path-prefixed line."""

from __future__ import annotations

import math
from typing import Any

from .limits import KEY_PATTERN, LIMITS, MAX_NAME, MAX_TEXT
from .specs import (
    _CASE_FIELDS,
    _FEW_SHOT_FIELDS,
    CASE_CHOICES,
    CASE_KINDS,
    CaseSpec,
    ConstitutionContent,
)

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


_PRINCIPLE_TEXTS = ("critique_request", "revision_request", "comparison_question")


def principle_use_problem(
    critique_request: str, revision_request: str, comparison_question: str
) -> tuple[str, str] | None:
    """(field, message) when a principle's texts fit no use; None when they fit one.

    The rule: critique and revision requests come together or not at all (a
    critique-revision round needs both), and a principle needs them, a comparison
    question, or both. The editor, the API and every import ask this one function.
    """
    critique, revision = bool(critique_request.strip()), bool(revision_request.strip())
    if critique and not revision:
        return (
            "revision_request",
            "must not be empty when there is a critique request "
            "(give both requests, or neither for a labeller-only principle)",
        )
    if revision and not critique:
        return (
            "critique_request",
            "must not be empty when there is a revision request "
            "(give both requests, or neither for a labeller-only principle)",
        )
    if not critique and not comparison_question.strip():
        return (
            "critique_request",
            "must not be empty: a principle needs critique and revision requests "
            "(critique-revision), a comparison question (the AI labeller), or both",
        )
    return None


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
        texts = (p.critique_request, p.revision_request, p.comparison_question)
        for field, text in zip(_PRINCIPLE_TEXTS, texts, strict=True):
            _check_text(f"{path}.{field}", label, text, out, required=False, limit=MAX_TEXT)
        if all(isinstance(t, str) for t in texts):
            use = principle_use_problem(
                p.critique_request, p.revision_request, p.comparison_question
            )
            if use is not None:
                out.append(_fmt(f"{path}.{use[0]}", label, use[1]))
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
    _check_cases(content, set(seen_keys), out)
    return out


# Which fields each kind of test case fills; the other kind's fields must stay empty.
CASE_KIND_FIELDS = {
    "labeller": ("response_a", "response_b", "preferred"),
    "policy": ("must", "must_not", "reference"),
}


def case_problems(case: CaseSpec) -> list[tuple[str, str]]:
    """(field, message) for every problem of one test case on its own (not its principle).

    The editor's service and ``validate_content`` (so every import) ask this one function.
    """
    out: list[tuple[str, str]] = []
    if case.kind not in CASE_KIND_FIELDS:
        return [("kind", f"must be one of {', '.join(CASE_KINDS)}, got {case.kind!r}")]

    def text(field: str, required: bool) -> None:
        problems: list[str] = []
        _check_text("x", None, getattr(case, field), problems, required=required, limit=MAX_TEXT)
        out.extend((field, p.removeprefix("x: ")) for p in problems)

    text("prompt", True)
    own = CASE_KIND_FIELDS[case.kind]
    for field in _CASE_FIELDS[3:]:
        value = getattr(case, field)
        if field not in own:
            if not isinstance(value, str) or value.strip():
                out.append((field, f"must be empty in a {case.kind} case"))
        elif field == "preferred":
            if value not in CASE_CHOICES:
                out.append(("preferred", f"must be 'a' or 'b', got {value!r}"))
        else:
            text(field, field in ("response_a", "response_b", "reference"))
    if case.kind == "policy" and not any(
        isinstance(v, str) and v.strip() for v in (case.must, case.must_not)
    ):
        out.append(
            (
                "must",
                "a policy case says what a good answer must do, must not do, or both; "
                "both are empty",
            )
        )
    return out


def _check_cases(content: ConstitutionContent, keys: set[str], out: list[str]) -> None:
    for i, c in enumerate(content.test_cases):
        path = f"test_cases[{i}]"
        label = c.principle if isinstance(c.principle, str) and c.principle else None
        if label is None:
            out.append(_fmt(f"{path}.principle", None, "must not be empty"))
        elif label not in keys:
            out.append(_fmt(f"{path}.principle", label, f"unknown principle {label!r}"))
        for field, message in case_problems(c):
            out.append(_fmt(f"{path}.{field}", label, message))
