"""A word-level diff of two texts as escaped HTML with ``<del>`` and ``<ins>``."""

from __future__ import annotations

import difflib
import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_TOKENS = re.compile(r"\s+|[^\s]+")


def word_diff(before: str, after: str) -> SafeString:
    """``after`` with the words removed from ``before`` struck out and the new ones marked.

    Whitespace is kept as its own tokens so the text reads as written. Every piece of
    user or model text is escaped before the markup goes around it.
    """
    a = _TOKENS.findall(before or "")
    b = _TOKENS.findall(after or "")
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return mark_safe("".join(out))
