"""Compare two constitution contents, and the project's one word diff of two texts.

Django-free: takes two ``ConstitutionContent`` snapshots and returns plain
dataclasses. Principles are matched by key and categories by name; changed text
comes with a word-level diff as ``(op, text)`` segments where ``op`` is
``"equal"``, ``"delete"`` or ``"insert"``, so joining the equal and delete parts
gives the old text and the equal and insert parts the new one.

:func:`word_diff` and :func:`segments_html` also draw the answer diffs of a
critique-revision run (``training_tags.word_diff``), so every page marks changed
words the same way.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .content import CategorySpec, ConstitutionContent, ContentError, PrincipleSpec
from .sampler import principle_probabilities

Segment = tuple[str, str]

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
PRINCIPLE_TEXT_FIELDS = ("critique_request", "revision_request", "comparison_question")
# Below this a probability is "unchanged": float noise from renormalising.
_EPSILON = 1e-12


def word_diff(old: str | None, new: str | None) -> list[Segment]:
    """Word-level diff of two texts (``None`` reads as empty).

    Tokens are runs of word characters, single punctuation marks and runs of
    whitespace, so "reply." -> "reply!" marks only the "!" and the segments join
    back to exactly the old and the new text.
    """
    a, b = _TOKEN.findall(old or ""), _TOKEN.findall(new or "")
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            _append(segments, "equal", "".join(a[i1:i2]))
        else:
            if i2 > i1:
                _append(segments, "delete", "".join(a[i1:i2]))
            if j2 > j1:
                _append(segments, "insert", "".join(b[j1:j2]))
    return segments


def _append(segments: list[Segment], op: str, text: str) -> None:
    if segments and segments[-1][0] == op:
        segments[-1] = (op, segments[-1][1] + text)
    else:
        segments.append((op, text))


_TAGS = {"insert": "ins", "delete": "del"}


# When more than this share of the words differ, a word diff is a confetti of
# <del>/<ins>; the two texts side by side read better.
REWRITE_SHARE = 2 / 3
_WORD = re.compile(r"\w+")


def changed_share(segments: Iterable[Segment]) -> float:
    """Share of the words of both texts that a diff marks changed (0: same, 1: rewritten)."""
    changed = total = 0
    for op, text in segments:
        words = len(_WORD.findall(text))
        weight = 2 if op == "equal" else 1  # an equal word is in both texts
        total += words * weight
        changed += 0 if op == "equal" else words
    return changed / total if total else 0.0


def segments_html(segments: Iterable[Segment], *, rewrite_share: float = REWRITE_SHARE) -> str:
    """Segments as HTML: removed text in ``<del>``, added text in ``<ins>``.

    When more than ``rewrite_share`` of the words changed (a revision that rewrites
    the answer), the old and the new text come side by side instead, each whole.
    Every piece of text is escaped before the markup goes around it, so the result
    is safe to mark safe in a template. Only inline elements are used, so it can sit
    in a ``<p>``.
    """
    segments = list(segments)
    old = "".join(text for op, text in segments if op != "insert")
    new = "".join(text for op, text in segments if op != "delete")
    if old.strip() and new.strip() and changed_share(segments) > rewrite_share:
        return (
            '<span class="diff-side" data-diff="side-by-side">'
            '<span class="diff-note">Rewritten: most words changed, so before and after '
            "are shown side by side.</span>"
            f'<span class="before"><del>{html.escape(old)}</del></span>'
            f'<span class="after"><ins>{html.escape(new)}</ins></span></span>'
        )
    out = []
    for op, text in segments:
        tag = _TAGS.get(op)
        escaped = html.escape(text)
        out.append(f"<{tag}>{escaped}</{tag}>" if tag else escaped)
    return "".join(out)


def word_diff_html(old: str | None, new: str | None) -> str:
    """:func:`word_diff` drawn by :func:`segments_html`."""
    return segments_html(word_diff(old, new))


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    # Only for text fields: the word diff of old -> new.
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class PrincipleDiff:
    key: str
    status: str  # "added" | "removed" | "changed"
    old: PrincipleSpec | None
    new: PrincipleSpec | None
    fields: tuple[FieldChange, ...] = ()

    def change(self, name: str) -> FieldChange | None:
        return next((f for f in self.fields if f.field == name), None)

    @property
    def text_changes(self) -> tuple[FieldChange, ...]:
        return tuple(f for f in self.fields if f.field in PRINCIPLE_TEXT_FIELDS)

    @property
    def weight_change(self) -> FieldChange | None:
        return self.change("weight")

    @property
    def enabled_change(self) -> FieldChange | None:
        return self.change("enabled")

    @property
    def category_move(self) -> FieldChange | None:
        return self.change("category")


@dataclass(frozen=True)
class CategoryDiff:
    name: str
    status: str  # "added" | "removed" | "changed"
    old: CategorySpec | None
    new: CategorySpec | None
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class ProbabilityChange:
    key: str
    old: float | None  # None: the principle is not in that version
    new: float | None

    @property
    def delta(self) -> float:
        return (self.new or 0.0) - (self.old or 0.0)

    @property
    def old_percent(self) -> float | None:
        return None if self.old is None else self.old * 100

    @property
    def new_percent(self) -> float | None:
        return None if self.new is None else self.new * 100

    @property
    def delta_percent(self) -> float:
        return self.delta * 100


@dataclass(frozen=True)
class ConstitutionDiff:
    categories: tuple[CategoryDiff, ...]
    principles: tuple[PrincipleDiff, ...]
    probabilities: tuple[ProbabilityChange, ...]
    # Why the probabilities of a side could not be computed (None: they could).
    probabilities_unavailable: dict[str, str | None] = field(default_factory=dict)
    few_shots_old: int = 0
    few_shots_new: int = 0
    few_shots_changed: bool = False
    hash_old: str = ""
    hash_new: str = ""

    @property
    def is_empty(self) -> bool:
        return self.hash_old == self.hash_new

    @property
    def probabilities_available(self) -> bool:
        return not any(self.probabilities_unavailable.values())

    def principle(self, key: str) -> PrincipleDiff:
        for p in self.principles:
            if p.key == key:
                return p
        raise KeyError(key)

    def category(self, name: str) -> CategoryDiff:
        for c in self.categories:
            if c.name == name:
                return c
        raise KeyError(name)


def _probabilities(content: ConstitutionContent) -> tuple[dict[str, float] | None, str | None]:
    try:
        return principle_probabilities(content), None
    except ContentError as exc:
        return None, "; ".join(exc.problems)


def _field_changes(
    old: Any, new: Any, names: tuple[str, ...], text: tuple[str, ...]
) -> tuple[FieldChange, ...]:
    changes = []
    for name in names:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            segments = tuple(word_diff(a, b)) if name in text else ()
            changes.append(FieldChange(name, a, b, segments))
    return tuple(changes)


_PRINCIPLE_FIELDS = ("category", *PRINCIPLE_TEXT_FIELDS, "weight", "enabled")
_CATEGORY_FIELDS = ("description", "weight", "priority")


def diff_contents(old: ConstitutionContent, new: ConstitutionContent) -> ConstitutionDiff:
    """Everything that differs between ``old`` and ``new``, in ``new``'s display order
    (removed items follow, in ``old``'s order)."""
    old_cats = {c.name: c for c in old.categories}
    new_cats = {c.name: c for c in new.categories}
    categories: list[CategoryDiff] = []
    for c in new.categories:
        before = old_cats.get(c.name)
        if before is None:
            categories.append(CategoryDiff(c.name, "added", None, c))
            continue
        fields = _field_changes(before, c, _CATEGORY_FIELDS, ("description",))
        if fields:
            categories.append(CategoryDiff(c.name, "changed", before, c, fields))
    categories += [
        CategoryDiff(c.name, "removed", c, None) for c in old.categories if c.name not in new_cats
    ]

    old_ps = {p.key: p for p in old.principles}
    new_ps = {p.key: p for p in new.principles}
    principles: list[PrincipleDiff] = []
    for p in new.principles:
        before = old_ps.get(p.key)
        if before is None:
            principles.append(PrincipleDiff(p.key, "added", None, p))
            continue
        fields = _field_changes(before, p, _PRINCIPLE_FIELDS, PRINCIPLE_TEXT_FIELDS)
        if fields:
            principles.append(PrincipleDiff(p.key, "changed", before, p, fields))
    principles += [
        PrincipleDiff(p.key, "removed", p, None) for p in old.principles if p.key not in new_ps
    ]

    old_probs, old_why = _probabilities(old)
    new_probs, new_why = _probabilities(new)
    probabilities: list[ProbabilityChange] = []
    if old_probs is not None and new_probs is not None:
        keys = list(new_probs) + [k for k in old_probs if k not in new_probs]
        for key in keys:
            a, b = old_probs.get(key), new_probs.get(key)
            if a is None or b is None or abs(a - b) > _EPSILON:
                probabilities.append(ProbabilityChange(key, a, b))

    return ConstitutionDiff(
        categories=tuple(categories),
        principles=tuple(principles),
        probabilities=tuple(probabilities),
        probabilities_unavailable={"old": old_why, "new": new_why},
        few_shots_old=len(old.few_shots),
        few_shots_new=len(new.few_shots),
        few_shots_changed=old.few_shots != new.few_shots,
        hash_old=old.content_hash(),
        hash_new=new.content_hash(),
    )
