"""Domain errors of the training app (subclasses of the project's one base)."""

from __future__ import annotations

from cai_web.errors import DomainError, ProblemsError


class TrainingError(DomainError):
    """A request about prompt sets, models or runs that cannot be honoured."""


class IdempotencyConflict(TrainingError):
    """An idempotency key already started a run with another request."""


class PromptSetError(ProblemsError, TrainingError):
    """An upload was rejected; ``problems`` lists every reason (line numbers included)."""

    def __init__(self, problems: list[str], *, field: str | None = "file") -> None:
        super().__init__(problems, field=field)


__all__ = ["IdempotencyConflict", "PromptSetError", "TrainingError"]
