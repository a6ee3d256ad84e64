"""The registry of run kinds: kind name → :class:`~training.kinds.base.KindSpec`.

Adding a kind is one module under ``training/kinds/`` that defines ``SPEC`` and one
line in :data:`KIND_MODULES`. Modules are loaded by name on first use (the way
Django loads INSTALLED_APPS), so the models can take their choices from here
without importing the kinds, which import the models.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.kinds.base import KindSpec

# The registry: one line per kind, in the order pages list them.
KIND_MODULES: tuple[str, ...] = (
    "training.kinds.critique_revision",
    "training.kinds.sft",
    "training.kinds.labelling",
    "training.kinds.dpo",
    "training.kinds.reward",
    "training.kinds.evaluation",
    "training.kinds.mining",
    "training.kinds.calibration",
    "training.kinds.constitution_check",
)


class UnknownKind(LookupError):
    pass


@cache
def kinds() -> dict[str, KindSpec]:
    """Every registered kind, by name."""
    specs = [import_module(path).SPEC for path in KIND_MODULES]
    return {spec.name: spec for spec in specs}


def get(name: str) -> KindSpec:
    """The spec of kind ``name``; :class:`UnknownKind` names the kinds there are."""
    try:
        return kinds()[name]
    except KeyError:
        raise UnknownKind(
            f"Unknown run kind {name!r}; the kinds are {', '.join(kinds())}."
        ) from None


def kind_choices() -> list[tuple[str, str]]:
    """``Run.kind`` choices (a callable, so a new kind needs no migration)."""
    return [(spec.name, spec.label) for spec in kinds().values()]


__all__ = ["KIND_MODULES", "UnknownKind", "get", "kind_choices", "kinds"]
