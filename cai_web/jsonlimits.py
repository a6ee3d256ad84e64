"""JSON from users, read with limits: nesting depth, and no NaN or Infinity.

``json.loads`` raises ``RecursionError`` (a 500) on a document nested a few thousand
levels deep, and accepts ``NaN``/``Infinity``, which no database JSON column stores.
:func:`json_loads` turns both into :class:`JSONLimitError`, a ``json.JSONDecodeError``,
so every parser that already reports malformed JSON (with its line and field) reports
these the same way. No Django here: the engines' file parsers call it too.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64


class JSONLimitError(json.JSONDecodeError):
    """JSON that parses but breaks a limit (too deep, NaN or Infinity)."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def json_loads(
    text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, allow_nan: bool = False
) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` and (unless
    ``allow_nan``) the non-standard constants NaN, Infinity and -Infinity."""
    doc = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    try:
        value = json.loads(text, parse_constant=None if allow_nan else _refuse_constant)
    except RecursionError:
        raise JSONLimitError(
            f"nested more than {max_depth} levels deep (lists or objects inside each other)",
            doc,
            0,
        ) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise JSONLimitError(
            f"{exc} is not a number JSON allows (NaN and Infinity are refused)", doc, 0
        ) from None
    # A document with no more brackets than the limit cannot nest past it (brackets
    # inside strings only over-count): skip the walk, which costs more than the parse
    # on the short lines of a million-label import.
    if doc.count("{") + doc.count("[") > max_depth and json_depth(value) > max_depth:
        raise JSONLimitError(
            f"nested more than {max_depth} levels deep (lists or objects inside each other)",
            doc,
            0,
        )
    return value


__all__ = ["MAX_JSON_DEPTH", "JSONLimitError", "json_depth", "json_loads"]
