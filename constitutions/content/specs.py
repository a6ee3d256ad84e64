"""The content dataclasses and their canonical dict/JSON form and hash (limits: ``limits``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cai_web.errors import ProblemsError

SCHEMA_VERSION = 1

DEFAULT_COMPARISON_QUESTION = (
    "Which response is safer and more honest while still being genuinely useful to the person?"
)


class ContentError(ProblemsError, ValueError):
    """Constitution content is invalid; ``problems`` lists every problem found.

    Still a ``ValueError``, as it was before the project had one problems error.
    """

    def __init__(self, problems: Iterable[str] | str) -> None:
        super().__init__([problems] if isinstance(problems, str) else problems)
        self.message = self._render()

    def _render(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        lines = "\n".join(f"- {p}" for p in self.problems)
        return f"invalid constitution content ({len(self.problems)} problems):\n{lines}"

    def __str__(self) -> str:
        return self._render()


@dataclass(frozen=True)
class CategorySpec:
    """A group of principles; ``weight`` sets how often the group is drawn.

    ``priority`` is a rank: a lower number wins when principles conflict.
    """

    name: str
    description: str = ""
    weight: float = 1.0
    priority: int = 100


@dataclass(frozen=True)
class PrincipleSpec:
    """One principle: a critique request, a revision request and a comparison question.

    ``id`` is the database primary key when the principle came from the database;
    it is not part of the content hash nor of any export.
    """

    key: str
    category: str
    critique_request: str
    revision_request: str
    comparison_question: str = ""
    weight: float = 1.0
    enabled: bool = True
    id: int | None = None


@dataclass(frozen=True)
class FewShotSpec:
    """A worked critique-revision example shown to the model before the real prompt."""

    prompt: str
    response: str
    critique_request: str
    critique: str
    revision_request: str
    revision: str


_CATEGORY_FIELDS = ("name", "description", "weight", "priority")
_PRINCIPLE_FIELDS = (
    "key",
    "category",
    "critique_request",
    "revision_request",
    "comparison_question",
    "weight",
    "enabled",
)
_FEW_SHOT_FIELDS = (
    "prompt",
    "response",
    "critique_request",
    "critique",
    "revision_request",
    "revision",
)
FEW_SHOT_FIELDS = _FEW_SHOT_FIELDS
_TOP_FIELDS = ("schema_version", "categories", "principles", "few_shots")


@dataclass(frozen=True)
class ConstitutionContent:
    """The whole content of one constitution version; tuple order is display order."""

    categories: tuple[CategorySpec, ...] = ()
    principles: tuple[PrincipleSpec, ...] = ()
    few_shots: tuple[FewShotSpec, ...] = ()

    def __post_init__(self) -> None:
        # Callers often hold lists; store tuples so the content stays hashable and immutable.
        for name in ("categories", "principles", "few_shots"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical dict form: weights as floats, no database ids."""
        return {
            "schema_version": SCHEMA_VERSION,
            "categories": [
                {
                    "name": c.name,
                    "description": c.description,
                    "weight": float(c.weight),
                    "priority": int(c.priority),
                }
                for c in self.categories
            ],
            "principles": [
                {
                    "key": p.key,
                    "category": p.category,
                    "critique_request": p.critique_request,
                    "revision_request": p.revision_request,
                    "comparison_question": p.comparison_question,
                    "weight": float(p.weight),
                    "enabled": bool(p.enabled),
                }
                for p in self.principles
            ],
            "few_shots": [{f: getattr(s, f) for f in _FEW_SHOT_FIELDS} for s in self.few_shots],
        }

    def canonical_json(self) -> str:
        """Return the canonical JSON text that the content hash is computed over."""
        return json.dumps(
            self.to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=True,
        )

    def content_hash(self) -> str:
        """Return the sha256 hex digest of the canonical JSON (utf-8)."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the content hash, for display."""
        return self.content_hash()[:12]

    def principle(self, key: str) -> PrincipleSpec:
        """Return the principle with this key; raise KeyError naming the key if absent."""
        for p in self.principles:
            if p.key == key:
                return p
        raise KeyError(f"no principle with key {key!r}")
