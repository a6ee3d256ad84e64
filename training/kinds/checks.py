"""Checks several kinds make before a run starts (each rule written once, here)."""

from __future__ import annotations

from typing import Any, TypeVar

from constitutions.models import ConstitutionVersion
from constitutions.sampler import Use
from training.errors import TrainingError
from training.models import PromptSelection, PromptSet
from training.services.prompt_sets import run_prompt_queryset

T = TypeVar("T")


def require_drawable(version: ConstitutionVersion, use: Use = "critique") -> None:
    """The constitution must have at least one principle a sampler can draw for ``use``
    ("critique": critique-revision; "comparison": the AI labeller, which falls back to
    every principle when none has a comparison question)."""
    from constitutions.content import ContentError
    from constitutions.sampler import principle_probabilities
    from constitutions.selectors import version_content, version_with_content

    try:
        principle_probabilities(version_content(version_with_content(version.pk)), use)
    except ContentError as exc:
        raise TrainingError(str(exc), field="version") from None


def require_prompts(prompt_set: PromptSet, selection: str, subset: Any = None) -> int:
    """The number of prompts the run uses: the selection, cut to the config's subset
    (``PromptSubset``) when it has one; refused when there are none, or when the
    subset asks for more than the selection holds."""
    n = run_prompt_queryset(prompt_set, selection).count()
    label = PromptSelection(selection).label.lower()
    if n == 0:
        raise TrainingError(
            f"{prompt_set} has no prompts in the {label}.", field="prompt_selection"
        )
    limit = getattr(subset, "prompt_limit", None)
    if limit and limit > n:
        raise TrainingError(
            f"N prompts only: {limit} asked for, but the {label} of {prompt_set} holds only {n}.",
            field="prompt_limit",
        )
    return min(n, limit) if limit else n


def parse_options(config_class: type[T], options: dict[str, Any]) -> T:
    """A kind's config from its launch options (strict), refused naming ``config``."""
    from training.engine.config import config_from_dict

    try:
        return config_from_dict(config_class, options)
    except ValueError as exc:
        raise TrainingError(f"Invalid options: {exc}", field="config") from None


def user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


__all__ = ["parse_options", "require_drawable", "require_prompts", "user_or_none"]
