"""The one domain-error base of the project.

Services raise a :class:`DomainError` (or a subclass named for its app) when a
request cannot be honoured. The message is written for the person who asked and is
shown as is; ``field`` names the form field (or API field) it is about, if any.
:class:`ProblemsError` carries every reason at once (an upload with ten bad lines
lists all ten).
"""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    """A request that cannot be honoured; ``str(exc)`` is shown to the user as is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ProblemsError(DomainError):
    """A rejected input with every problem listed (line numbers, field names included)."""

    def __init__(self, problems: Iterable[str], *, field: str | None = None) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__("; ".join(self.problems), field=field)


__all__ = ["DomainError", "ProblemsError"]
