"""The limits on constitution content: the one definition every layer asks.

The model columns (``max_length``), the editor forms, ``validate_content`` (and so
every import), the services and the generated ``docs/constitution.schema.json``
all read :data:`LIMITS`; change a number here, then run
``manage.py constitution_schema --write`` (and ``makemigrations`` if a column
changed). A test asserts that all of them agree.

Why these numbers: names are headings in the editor, the run forms and the label
views, so 120 characters is plenty (the published constitutions the importers
read use one short category, "Imported", and names like "constitution_grok");
their longest text (a few-shot dialogue of the CAI paper) is about 3,000
characters, so 10,000 leaves room. ``priority`` is stored in a small integer column, and a
weight above a million only makes the others round to zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ContentLimits:
    """Limits on user input, each with the help text the schema and docs show."""

    constitution_name: int = field(
        default=120, metadata={"help": "Characters in a constitution's name."}
    )
    category_name: int = field(
        default=120, metadata={"help": "Characters in a category's name (unique per version)."}
    )
    principle_key: int = field(
        default=64, metadata={"help": "Characters in a principle's key: a-z, 0-9, '_' and '-'."}
    )
    text: int = field(
        default=10_000,
        metadata={
            "help": "Characters in any long text: descriptions, requests, questions, "
            "few-shot texts, changelogs."
        },
    )
    priority_min: int = field(default=0, metadata={"help": "Lowest category priority."})
    priority_max: int = field(
        default=32_767, metadata={"help": "Highest category priority (a small integer column)."}
    )
    weight_max: float = field(
        default=1_000_000.0, metadata={"help": "Largest category or principle weight."}
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name}: must be >= 0, got {getattr(self, f.name)!r}")
        if self.priority_min > self.priority_max:
            raise ValueError("priority_min: must not exceed priority_max")

    @property
    def key_pattern(self) -> str:
        """The regular expression a whole principle key must match."""
        return rf"[a-z0-9_-]{{1,{self.principle_key}}}"

    def as_table(self) -> list[tuple[str, Any, str]]:
        """(name, value, help) rows: what docs/constitution-format.md's table shows."""
        return [(f.name, getattr(self, f.name), f.metadata["help"]) for f in fields(self)]


LIMITS = ContentLimits()

KEY_PATTERN = re.compile(LIMITS.key_pattern)
MAX_TEXT = LIMITS.text
MAX_NAME = LIMITS.category_name

__all__ = ["KEY_PATTERN", "LIMITS", "MAX_NAME", "MAX_TEXT", "ContentLimits"]
