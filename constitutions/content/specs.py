"""The content dataclasses and their canonical dict/JSON form and hash (limits: ``limits``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cai_web.errors import ProblemsError

# The export format's version. 2 lets a principle leave out the critique and revision
# requests (a labeller-only principle); every version-1 file is a valid version-2 file,
# and the reader takes both (READABLE_SCHEMA_VERSIONS).
SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
# The content hash is computed over the content's dict form with this schema_version,
# not SCHEMA_VERSION: the content of every version published under format 1 hashes as
# it did, so a format bump that adds no field never renames a published version.
HASH_SCHEMA_VERSION = 1
# Schema version 2 also added ``test_cases`` (principle test cases, see CaseSpec).
CASE_KINDS = ("labeller", "policy")
CASE_CHOICES = ("a", "b")

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
    """One principle: a critique and revision request, a comparison question, or both.

    A principle with both requests is used by critique-revision (SL-CAI); one with a
    comparison question by the AI labeller (RL-CAI). Either may be missing (empty
    text): a labeller-only principle has no requests, an SL-only one no question
    (``validate_content`` holds the rule). ``id`` is the database primary key when the
    principle came from the database; it is not part of the content hash nor of any export.
    """

    key: str
    category: str
    critique_request: str = ""
    revision_request: str = ""
    comparison_question: str = ""
    weight: float = 1.0
    enabled: bool = True
    id: int | None = None

    @property
    def critiques(self) -> bool:
        """True when it has critique and revision requests (critique-revision may draw it)."""
        return bool(self.critique_request.strip() and self.revision_request.strip())

    @property
    def compares(self) -> bool:
        """True when it has a comparison question (the AI labeller may draw it)."""
        return bool(self.comparison_question.strip())

    @property
    def role(self) -> str:
        """ "both", "critique-revision only" or "labeller only", for pages and exports."""
        if self.critiques and self.compares:
            return "both"
        return "critique-revision only" if self.critiques else "labeller only"


@dataclass(frozen=True)
class FewShotSpec:
    """A worked critique-revision example shown to the model before the real prompt."""

    prompt: str
    response: str
    critique_request: str
    critique: str
    revision_request: str
    revision: str


@dataclass(frozen=True)
class CaseSpec:
    """A test case of one principle (``principle`` is its key).

    ``labeller``: a prompt, two responses and the one this principle should prefer
    (``preferred``, "a" or "b"); the judge must prefer it in both presentation orders.
    ``policy``: a prompt, what a good answer must and must not do, and a reference
    answer; the policy's answer must be judged, with the principle's comparison
    question and those requirements, at least as good as the reference.
    Fields of the other kind stay empty.
    """

    principle: str
    kind: str
    prompt: str
    response_a: str = ""
    response_b: str = ""
    preferred: str = ""
    must: str = ""
    must_not: str = ""
    reference: str = ""
    id: int | None = None

    def fingerprint(self) -> str:
        """A short hash of the case's content: the same case in two versions matches."""
        body = {f: getattr(self, f) for f in _CASE_FIELDS}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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
_CASE_FIELDS = (
    "principle",
    "kind",
    "prompt",
    "response_a",
    "response_b",
    "preferred",
    "must",
    "must_not",
    "reference",
)
CASE_FIELDS = _CASE_FIELDS
_TOP_FIELDS = ("schema_version", "categories", "principles", "few_shots", "test_cases")


@dataclass(frozen=True)
class ConstitutionContent:
    """The whole content of one constitution version; tuple order is display order."""

    categories: tuple[CategorySpec, ...] = ()
    principles: tuple[PrincipleSpec, ...] = ()
    few_shots: tuple[FewShotSpec, ...] = ()
    test_cases: tuple[CaseSpec, ...] = ()

    def __post_init__(self) -> None:
        # Callers often hold lists; store tuples so the content stays hashable and immutable.
        for name in ("categories", "principles", "few_shots", "test_cases"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical dict form: weights as floats, no database ids.

        ``test_cases`` appears only when there are any, so the hash of content
        without cases is what version 1 made.
        """
        body: dict[str, Any] = {
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
        if self.test_cases:
            body["test_cases"] = [{f: getattr(c, f) for f in _CASE_FIELDS} for c in self.test_cases]
        return body

    def canonical_json(self) -> str:
        """Return the canonical JSON text that the content hash is computed over."""
        return json.dumps(
            {**self.to_dict(), "schema_version": HASH_SCHEMA_VERSION},
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

    def cases_of(self, key: str) -> tuple[CaseSpec, ...]:
        """The test cases of principle ``key``, in display order."""
        return tuple(c for c in self.test_cases if c.principle == key)
