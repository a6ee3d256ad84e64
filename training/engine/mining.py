"""Principles mined from disagreements: ask a model which principle would have produced
the human verdict where the AI label disagreed, keep the distinct answers, and test
each by relabelling the reviewed comparisons with it alone.

Plain data in, plain data out (no Django): the run kind (``training.kinds.mining``)
reads the comparisons and writes the candidates; this module builds the proposal
prompts, parses what the model wrote (robustly: a tiny model writes poorly, and an
answer that does not parse is counted with its reason, never raised), de-duplicates,
and scores agreement with the humans through the labelling kind's log-prob labeller
(:func:`training.engine.labeller.label_pairs`, both orders).

De-duplication (:func:`deduplicate`): two candidates are the same when their
*comparison questions* — the text the labeller actually asks — are equal after
normalising (lower case, letters and digits only, single spaces), or when the sets of
their normalised words overlap by Jaccard similarity >= ``similarity`` (0.8 by
default). The first candidate of a group is kept; the others add to its support.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from training.engine.config import ConfigError, config_from_dict
from training.engine.types import ChatRequest, SamplingParams

if TYPE_CHECKING:
    from constitutions.content import ConstitutionContent
    from training.engine.types import InferenceBackend

# Which human verdict the mining treats as the truth (a Comparison column each).
REFERENCES = ("gold", "audit", "combined")
FIELDS = ("critique_request", "revision_request", "comparison_question")
# Shorter than this (characters, after cleaning) is not a usable request or question.
MIN_FIELD_CHARS = 12
MAX_FIELD_CHARS = 2000
MINED_CATEGORY = "Mined"


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(kw_only=True)
class MiningRunConfig:
    """Mine candidate principles from a label set's AI-human disagreements and test them."""

    reference: str = field(
        default="gold",
        metadata=_help(
            "Which human verdict is the truth: 'gold' (labels imported with the set), "
            "'audit' (reviews made in the app) or 'combined' (strict majority of both)."
        ),
    )
    max_disagreements: int = field(
        default=16, metadata=_help("Disagreements the model is asked about (one proposal each).")
    )
    max_candidates: int = field(
        default=8, metadata=_help("Distinct candidates tested (the best supported first).")
    )
    max_comparisons: int = field(
        default=200, metadata=_help("Reviewed comparisons each candidate relabels (both orders).")
    )
    similarity: float = field(
        default=0.8,
        metadata=_help("Word-set Jaccard similarity of two comparison questions that merges them."),
    )
    k_principles: int = field(
        default=1, metadata=_help("Principles per pair when relabelling with the constitution.")
    )
    temperature: float = field(
        default=0.0, metadata=_help("Sampling temperature of the proposals (0: greedy).")
    )
    max_new_tokens: int = field(default=160, metadata=_help("Tokens per proposal."))
    batch_size: int = field(default=8, metadata=_help("Proposals or pairs per batch."))
    seed: int = field(default=0, metadata=_help("Seeds the proposals and the principle draws."))

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.reference not in REFERENCES:
            problems.append(f"reference: must be one of {', '.join(REFERENCES)}")
        for name, low in (
            ("max_disagreements", 1),
            ("max_candidates", 1),
            ("max_comparisons", 1),
            ("k_principles", 1),
            ("max_new_tokens", 1),
            ("batch_size", 1),
            ("seed", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                problems.append(f"{name}: must be an integer >= {low}, got {value!r}")
        for name, low_f, high_f in (("similarity", 0.0, 1.0), ("temperature", 0.0, 2.0)):
            number = getattr(self, name)
            if isinstance(number, bool) or not isinstance(number, int | float):
                problems.append(f"{name}: must be a number, got {number!r}")
            elif not low_f <= number <= high_f:
                problems.append(f"{name}: must be in [{low_f:g}, {high_f:g}], got {number!r}")
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MiningRunConfig:
        return config_from_dict(cls, data)


# -- proposals ----------------------------------------------------------------

PROPOSAL_INSTRUCTION = (
    "An AI judge compared two replies to the request below and preferred the reply "
    "that a careful human reviewer rejected. Write one general principle that would "
    "have led the judge to prefer the reply the human chose. Do not mention this "
    "particular request; the principle must apply to any conversation."
)
PROPOSAL_FORMAT = (
    "Answer with exactly three lines and nothing else:\n"
    "Critique request: <ask a critic to point out where a reply breaks the principle>\n"
    "Revision request: <ask a writer to rewrite a reply so that it follows the principle>\n"
    "Comparison question: <ask which of two replies better follows the principle>"
)
# A worked example (our own words), shown as an earlier turn so small models see the form.
EXAMPLE_REQUEST = (
    "Request:\nHow do I get back at my neighbour for parking in my spot?\n\n"
    "Reply the human preferred:\nTalk to them calmly first; if that fails, ask your "
    "landlord or the council about the parking rules.\n\n"
    "Reply the human rejected:\nLet the air out of their tyres so they learn."
)
EXAMPLE_QUESTION = (
    "Which reply steers the person toward settling the conflict peacefully and lawfully?"
)
EXAMPLE_ANSWER = (
    "Critique request: Identify any way the reply encourages revenge, damage to "
    "property or escalation of a conflict.\n"
    "Revision request: Rewrite the reply so that it suggests peaceful, lawful ways to "
    "settle the conflict.\n"
    f"Comparison question: {EXAMPLE_QUESTION}"
)
# A small model often copies the worked example back; that is not a mined principle.
EXAMPLE_COPY_SIMILARITY = 0.8


@dataclass(frozen=True)
class Disagreement:
    """A reviewed comparison where the AI label and the human verdict differ."""

    external_id: str
    prompt: str
    chosen: str  # the response the human preferred
    rejected: str


def proposal_messages(item: Disagreement) -> tuple[dict[str, str], ...]:
    """The proposal conversation: the instruction and the worked example, then the case."""
    head = f"{PROPOSAL_INSTRUCTION}\n\n{PROPOSAL_FORMAT}\n\n"
    case = (
        f"Request:\n{item.prompt.strip()}\n\n"
        f"Reply the human preferred:\n{item.chosen.strip()}\n\n"
        f"Reply the human rejected:\n{item.rejected.strip()}"
    )
    return (
        {"role": "user", "content": head + EXAMPLE_REQUEST},
        {"role": "assistant", "content": EXAMPLE_ANSWER},
        {"role": "user", "content": head + case},
    )


def propose(
    items: Sequence[Disagreement],
    backend: InferenceBackend,
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
) -> list[tuple[str, int, int]]:
    """The model's raw proposal per disagreement: (text, prompt tokens, completion tokens)."""
    if not items:
        return []
    params = SamplingParams(
        temperature=float(temperature), max_new_tokens=max_new_tokens, seed=seed
    )
    requests = [ChatRequest(proposal_messages(item)) for item in items]
    return [
        (c.text, c.prompt_tokens, c.completion_tokens) for c in backend.generate(requests, params)
    ]


# -- parsing ------------------------------------------------------------------

_LABELS = {
    "critique_request": r"critique(?:\s+request)?",
    "revision_request": r"revision(?:\s+request)?|rewrite(?:\s+request)?",
    "comparison_question": r"comparison(?:\s+question)?|question",
}
# A label at the start of a line, with markdown, bullets or numbering around it.
_LABEL_LINE = re.compile(
    r"^[\s>*_#\-\d.)(]*(?P<label>"
    + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _LABELS.items())
    + r")[\s*_]*[:\-–—][\s*_]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^<.*>$|^\.\.\.$|^\[.*\]$")


@dataclass(frozen=True)
class Candidate:
    """A parsed proposal: the three texts of a principle."""

    critique_request: str
    revision_request: str
    comparison_question: str


@dataclass(frozen=True)
class Parsed:
    """What one proposal parsed to: a candidate, or the reason it could not."""

    candidate: Candidate | None
    problem: str = ""


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = text.strip("*_`\"' ")
    return text


def parse_proposal(text: str) -> Parsed:
    """The three fields of a proposal, or the first problem found.

    Accepts each field as ``Label: text`` at the start of a line, the label in any
    case, with or without "request"/"question", wrapped in markdown, bullets or
    numbers; a field's text may continue on the lines after it. The first occurrence
    of a label wins (a model that repeats the format keeps its first answer). Refused:
    a missing or empty field, a field shorter than ``MIN_FIELD_CHARS`` characters, a
    format placeholder copied back (``<...>``), a field longer than ``MAX_FIELD_CHARS``,
    and a copy of the prompt's worked example (its comparison question at word
    similarity >= ``EXAMPLE_COPY_SIMILARITY``).
    """
    if not isinstance(text, str) or not text.strip():
        return Parsed(None, "empty answer")
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _LABEL_LINE.match(line)
        if match:
            name = next(n for n in FIELDS if match.group(n))
            if name in found:
                current = None  # a repeat: keep the first, ignore what follows it
                continue
            found[name] = [match.group("rest")]
            current = name
        elif current is not None:
            found[current].append(line)
    if not found:
        return Parsed(None, "no labelled fields")
    values: dict[str, str] = {}
    for name in FIELDS:
        label = name.replace("_", " ")
        if name not in found:
            return Parsed(None, f"no {label}")
        value = _clean(" ".join(found[name]))
        if not value:
            return Parsed(None, f"empty {label}")
        if _PLACEHOLDER.match(value):
            return Parsed(None, f"the {label} is the format's placeholder")
        if len(value) < MIN_FIELD_CHARS:
            return Parsed(None, f"the {label} is too short ({len(value)} characters)")
        if len(value) > MAX_FIELD_CHARS:
            return Parsed(None, f"the {label} is too long ({len(value):,} characters)")
        values[name] = value
    if similarity(values["comparison_question"], EXAMPLE_QUESTION) >= EXAMPLE_COPY_SIMILARITY:
        return Parsed(None, "it repeats the worked example")
    return Parsed(Candidate(**values))


# -- de-duplication -----------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the normalised word sets of ``a`` and ``b``."""
    wa, wb = set(normalise(a).split()), set(normalise(b).split())
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


@dataclass
class Group:
    """One distinct candidate and every proposal merged into it."""

    candidate: Candidate
    sources: list[str]  # external ids of the disagreements that proposed it

    @property
    def support(self) -> int:
        return len(self.sources)


def deduplicate(parsed: Sequence[tuple[str, Candidate]], *, threshold: float = 0.8) -> list[Group]:
    """Distinct candidates by comparison question (see the module docstring), in order
    of first appearance; each with the disagreements that proposed it."""
    groups: list[Group] = []
    for source, candidate in parsed:
        key = normalise(candidate.comparison_question)
        for group in groups:
            other = group.candidate.comparison_question
            if key == normalise(other) or similarity(key, other) >= threshold:
                group.sources.append(source)
                break
        else:
            groups.append(Group(candidate, [source]))
    return groups


def ranked(groups: Sequence[Group], limit: int) -> list[Group]:
    """The ``limit`` best-supported groups; ties keep their order of appearance."""
    order = sorted(range(len(groups)), key=lambda i: (-groups[i].support, i))
    return [groups[i] for i in order[:limit]]


# -- testing ------------------------------------------------------------------


@dataclass(frozen=True)
class Reviewed:
    """A reviewed comparison and its human verdict ("a" or "b")."""

    index: int  # the caller's stable id (seeds the principle draws)
    prompt: str
    response_a: str
    response_b: str
    human: str


@dataclass(frozen=True)
class Agreement:
    """Relabelled verdicts that match the human's: ``k`` of ``n``; ``consistent`` pairs
    picked the same answer in both orders; ``ties`` had P(a) exactly 0.5."""

    k: int
    n: int
    consistent: int
    ties: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def candidate_content(candidate: Candidate, key: str = "candidate") -> ConstitutionContent:
    """A one-principle constitution holding only ``candidate`` (every draw is it)."""
    from constitutions.content import CategorySpec, ConstitutionContent, PrincipleSpec

    return ConstitutionContent(
        categories=(CategorySpec(name=MINED_CATEGORY),),
        principles=(
            PrincipleSpec(
                key=key,
                category=MINED_CATEGORY,
                critique_request=candidate.critique_request,
                revision_request=candidate.revision_request,
                comparison_question=candidate.comparison_question,
            ),
        ),
    )


def agreement_of(
    items: Sequence[Reviewed],
    *,
    content: ConstitutionContent,
    backend: InferenceBackend,
    seed: int,
    k_principles: int = 1,
    batch_size: int = 8,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Agreement | None:
    """Relabel ``items`` with ``content`` (log-prob, both orders) and count agreement
    of the order-averaged verdict with the human's; None when stopped part way."""
    from training.engine.labeller import PairToLabel, label_pairs, verdict

    pairs = [
        PairToLabel(
            index=r.index, prompt=r.prompt, response_a=r.response_a, response_b=r.response_b
        )
        for r in items
    ]
    labels = label_pairs(
        pairs,
        content=content,
        backend=backend,
        seed=seed,
        k_principles=k_principles,
        batch_size=batch_size,
        progress=progress,
        should_stop=should_stop,
    )
    if len(labels) < len(pairs):
        return None
    human = {r.index: r.human for r in items}
    k = consistent = ties = 0
    for label in labels:
        v = verdict(label.p_a_mean)
        k += v == human[label.index]
        ties += v == "tie"
        consistent += label.consistent
    return Agreement(k=k, n=len(labels), consistent=consistent, ties=ties)


__all__ = [
    "Agreement",
    "Candidate",
    "Disagreement",
    "Group",
    "MINED_CATEGORY",
    "MiningRunConfig",
    "Parsed",
    "REFERENCES",
    "Reviewed",
    "agreement_of",
    "candidate_content",
    "deduplicate",
    "normalise",
    "parse_proposal",
    "propose",
    "proposal_messages",
    "ranked",
    "similarity",
]
