"""Errors, input dataclasses and batching shared by the labelling services."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cai_web.errors import DomainError

BATCH = 5000
IMPORT_FORMATS = ("jsonl", "llmbar", "pandalm", "cai_paper")
CHOICES = ("first", "second", "tie", "both_bad")


class LabellingError(DomainError):
    """A labelling request that cannot be honoured; the message is shown to the user as is."""


class LabelSetNotApproved(LabellingError):
    """Training asked for a label set that is not approved and gave no override reason."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ComparisonInput:
    external_id: str
    prompt: str
    response_a: str
    response_b: str
    principle_key: str = ""
    category: str = ""
    principle_id: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AILabelInput:
    """One judge's two-order verdicts on the comparison ``external_id`` of the set."""

    external_id: str
    judge: str
    verdict_ab: str | None
    verdict_ba: str | None
    p_a_ab: float | None = None
    p_a_ba: float | None = None


def iter_chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
