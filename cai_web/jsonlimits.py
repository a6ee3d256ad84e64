"""JSON from users, read with limits: nesting depth, no NaN or Infinity, and no text
the database cannot store (a NUL character, a lone surrogate).

``json.loads`` raises ``RecursionError`` (a 500) on a document nested a few thousand
levels deep, and accepts ``NaN``/``Infinity``, which no database JSON column stores.
:func:`json_loads` turns both into :class:`JSONLimitError`, a ``json.JSONDecodeError``,
so every parser that already reports malformed JSON (with its line and field) reports
these the same way. No Django here: the engines' file parsers call it too.

This is the one place the app reads JSON (or YAML, which nests the same way) that
someone else wrote: label and prompt files, model options, the API's request bodies
(``api.v1``'s parser), constitution imports (whose strict decoder and YAML loader
call :func:`check_limits` and :func:`too_deep`), a model server's answers. A test
(tests/security/test_json_everywhere.py) fails when a module parses JSON another way.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_JSON_DEPTH = 64


class JSONLimitError(json.JSONDecodeError):
    """JSON that parses but breaks a limit (too deep, NaN or Infinity)."""


class _Constant(ValueError):
    """NaN, Infinity or -Infinity, where they are not allowed."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def _finite_float(text: str) -> float:
    # "1e999" is no constant, yet it reads as infinity: refuse it like Infinity.
    value = float(text)
    if not math.isfinite(value):
        raise _Constant(f"{text[:40]} (it reads as infinity)")
    return value


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


def too_deep(doc: str = "", max_depth: int = MAX_JSON_DEPTH) -> JSONLimitError:
    """The error for a document nested deeper than ``max_depth`` (raise it)."""
    return JSONLimitError(
        f"nested more than {max_depth} levels deep (lists or objects inside each other)",
        doc,
        0,
    )


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "holds a NUL character (\\u0000), which no text column can store"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(text[exc.start])
            return f"holds a lone surrogate (\\u{code:04x}), which is not a character"
    return None


def _where(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f"[{p!r}]" for p in path) or "the top"


def check_limits(value: Any, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``value`` itself when it nests at most ``max_depth`` deep and every text in it (keys
    too) can be stored: no NUL character, no lone surrogate (both come from ``\\u``
    escapes, and the database refuses them, or the UTF-8 encoder does). Else raise
    :class:`JSONLimitError` naming the place. For parsers that decode on their own
    (YAML, a strict decoder that reports duplicate keys) before anything uses the result."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                raise JSONLimitError(f"the text at {_where(path)} {problem}", "", 0)
        elif isinstance(item, dict | list):
            if depth + 1 > max_depth:
                raise too_deep("", max_depth)
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and _text_problem(key):
                        problem = _text_problem(key)
                        raise JSONLimitError(f"the key at {_where(path)} {problem}", "", 0)
                    stack.append((child, depth + 1, (*path, key)))
            else:
                stack.extend((child, depth + 1, (*path, i)) for i, child in enumerate(item))
    return value


def nonfinite_at(value: Any) -> str | None:
    """Where ``value`` holds NaN or an infinity (``[0]['x']``), or None. A parser that
    reads with ``allow_nan`` (to name a NaN probability's field) asks this before it
    keeps free-form JSON: a database JSON column cannot store either."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return _where(path)
        if isinstance(item, dict):
            stack.extend((child, (*path, key)) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(item))
    return None


# Escapes that can make a text the database cannot store: \u0000 and the surrogates.
_ODD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def json_loads(
    text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, allow_nan: bool = False
) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` and (unless
    ``allow_nan``) the non-standard constants NaN, Infinity and -Infinity."""
    doc = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    try:
        value = (
            json.loads(text)
            if allow_nan
            else json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        )
    except RecursionError:
        raise too_deep(doc, max_depth) from None
    except _Constant as exc:
        raise JSONLimitError(
            f"{exc} is not a number JSON allows (NaN and Infinity are refused)", doc, 0
        ) from None
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at byte offset {exc.start})",
            doc,
            0,
        ) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # an integer of more digits than Python converts
        raise JSONLimitError(f"holds a number too long to read ({exc})", doc, 0) from None
    # A document with no more brackets than the limit cannot nest past it (brackets
    # inside strings only over-count), and one without a \u0000 or surrogate escape has
    # no text the database refuses: skip the walk, which costs more than the parse on
    # the short lines of a million-label import.
    deep = doc.count("{") + doc.count("[") > max_depth
    if deep or ("\\u" in doc and _ODD_ESCAPE.search(doc)):
        try:
            check_limits(value, max_depth)
        except JSONLimitError as exc:
            raise JSONLimitError(exc.msg, doc, 0) from None
    return value


def yaml_loads(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``yaml.safe_load`` with the same limits (YAML nests like JSON, and PyYAML
    recurses as it composes). Raises ``yaml.YAMLError`` for malformed YAML and
    :class:`JSONLimitError` for a document nested too deeply or holding a text the
    database cannot store."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except RecursionError:
        raise too_deep("", max_depth) from None
    return check_limits(value, max_depth)


__all__ = [
    "MAX_JSON_DEPTH",
    "JSONLimitError",
    "check_limits",
    "json_depth",
    "json_loads",
    "nonfinite_at",
    "too_deep",
    "yaml_loads",
]
