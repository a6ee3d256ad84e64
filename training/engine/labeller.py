"""AI preference labels for RL-CAI: which of two answers better follows a principle.

The feedback model sees a multiple-choice question (Bai et al. 2022, section 4.1)
and we read its next-token probabilities for "A" and "B" instead of sampling a
verdict: one forward pass per (pair, order, principle), no generation. Every pair
is scored in both presentation orders so that position bias cancels, and with ``k``
principles drawn from the constitution whose probabilities are averaged (the
paper's ensemble).

Prompt layout and shared tokens: the conversation and the two answers come first,
the principle's question last. So for one (pair, order) the k principle variants
share everything up to the question, which is most of the tokens. Requests are
scored grouped by (pair, order) so that these variants sit next to each other
(prefix caching in vLLM hits), and for the in-process transformers backend a fast
path encodes the shared prefix once per group with a KV cache and scores all k
question suffixes from it.

Nothing here imports torch at module import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from training.engine.types import ChatRequest, SamplingParams

if TYPE_CHECKING:
    from constitutions.content import ConstitutionContent, PrincipleSpec
    from training.engine.types import InferenceBackend

Message = dict[str, str]
Messages = tuple[Message, ...]

CHOICES = ("A", "B")
MODES = ("logprob", "cot")

# Our own wording. The question is the last thing before the answer instruction so
# that every principle variant of one (pair, order) shares the long part in front.
COMPARISON_INTRO = (
    "Below is a request someone sent to an AI assistant, followed by two possible "
    "replies, labelled (A) and (B). Read both, then answer the question that follows."
)
COMPARISON_TEMPLATE = (
    "{intro}\n\n"
    "Request:\n{prompt}\n\n"
    "(A) {first}\n\n"
    "(B) {second}\n\n"
    "Question: {question}\n"
    "Options:\n(A) the first reply\n(B) the second reply\n"
    "Answer with the single letter A or B."
)
COT_INSTRUCTION = (
    "Before you decide, think it through in two or three short sentences. Do not give "
    "the letter yet."
)
COT_FOLLOW_UP = "So, which reply is better? Answer with the single letter A or B."

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


@dataclass(frozen=True)
class PairToLabel:
    """Two answers to one prompt; ``index`` is the caller's id for the pair."""

    index: int
    prompt: str
    response_a: str
    response_b: str
    # A question of the pair's own instead of the principles' (a gold set whose two
    # "responses" are verdicts about a dialogue, e.g. harmful or ethical).
    question: str = ""


@dataclass(frozen=True)
class PairLabel:
    """The feedback model's preference for one pair, in both presentation orders.

    Every probability is that of the canonical ``response_a``: ``p_a_ab`` when a sat
    in slot (A), ``p_a_ba`` when b sat in slot (A) (so it is that order's P(slot B)).
    Each is the mean over the ``k`` principles of the ensemble.
    """

    index: int
    principle_keys: tuple[str, ...]
    principle_ids: tuple[int | None, ...]
    p_a_ab: float
    p_a_ba: float
    verdict_ab: str  # "a" | "b" | "tie"
    verdict_ba: str
    p_a_mean: float

    @property
    def consistent(self) -> bool:
        """True when both orders pick the same answer (no position flip)."""
        return self.verdict_ab == self.verdict_ba


@dataclass(frozen=True)
class GenerationLabel:
    """A verdict parsed from generated text, per order; ``None`` where nothing parsed."""

    index: int
    principle_keys: tuple[str, ...]
    verdicts_ab: tuple[str | None, ...]  # one per principle, canonical "a"/"b"
    verdicts_ba: tuple[str | None, ...]
    verdict_ab: str | None  # majority of the parsed ones; "tie" on a split
    verdict_ba: str | None
    raw_ab: tuple[str, ...]
    raw_ba: tuple[str, ...]


# -- prompts ------------------------------------------------------------------


def comparison_question(principle: PrincipleSpec | None) -> str:
    """The principle's comparison question, or the constitution-wide default."""
    from constitutions.content import DEFAULT_COMPARISON_QUESTION
    from constitutions.sampler import question_for

    return question_for(principle) if principle is not None else DEFAULT_COMPARISON_QUESTION


def build_comparison_messages(
    prompt: str,
    first_answer: str,
    second_answer: str,
    principle: PrincipleSpec | None,
    question: str = "",
) -> Messages:
    """One user turn asking which of two answers is better; the next token is the letter.

    ``first_answer`` fills slot (A) and ``second_answer`` slot (B). The principle's
    comparison question (or ``question``, when given) comes after both answers (see
    the module docstring for why).
    """
    text = COMPARISON_TEMPLATE.format(
        intro=COMPARISON_INTRO,
        prompt=prompt.strip(),
        first=first_answer.strip(),
        second=second_answer.strip(),
        question=question.strip() or comparison_question(principle),
    )
    return ({"role": "user", "content": text},)


def cot_messages(
    prompt: str,
    first_answer: str,
    second_answer: str,
    principle: PrincipleSpec | None,
    question: str = "",
) -> Messages:
    """The comparison, asking for a short reasoning first instead of the letter."""
    (message,) = build_comparison_messages(prompt, first_answer, second_answer, principle, question)
    text = message["content"].rsplit("\n", 1)[0] + "\n" + COT_INSTRUCTION
    return ({"role": "user", "content": text},)


def cot_scoring_messages(base: Messages, reasoning: str) -> Messages:
    """The CoT conversation with the model's reasoning, then the request for the letter."""
    return (
        *base,
        {"role": "assistant", "content": reasoning.strip()},
        {"role": "user", "content": COT_FOLLOW_UP},
    )


# -- principles ---------------------------------------------------------------


def pair_principles(
    content: ConstitutionContent, seed: int, index: int, k: int
) -> list[PrincipleSpec]:
    """The ``k`` principles for pair ``index``: seeded per pair, not per batch.

    Keyed on (seed, index) so a resumed or re-batched job draws the same
    principles for the same pair. Only principles with a comparison question are
    drawn (or, when the constitution has none, every principle, asked the default
    question: ``constitutions.sampler.comparison_fallback``).
    """
    from constitutions.sampler import sample_principles
    from training.engine.seeds import derive_seed

    pair_seed = derive_seed(int(seed), "pair", int(index))
    return sample_principles(content, k, pair_seed, use="comparison")


def verdict(p_a: float) -> str:
    """ "a" when the canonical a is preferred (p > 0.5), "b" when p < 0.5, else "tie"."""
    if p_a > 0.5:
        return "a"
    if p_a < 0.5:
        return "b"
    return "tie"


def clamp(p: float, bounds: tuple[float, float]) -> float:
    """``p`` clipped into ``bounds`` (the paper clamps CoT probabilities to 40-60%)."""
    low, high = bounds
    return min(max(p, low), high)


# -- log-prob labelling -------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One (pair, order) group: k requests that share everything up to the question."""

    pair: int  # position in the caller's list
    order: str  # "ab" | "ba"
    requests: tuple[ChatRequest, ...]


def _check_args(
    k_principles: int, mode: str, batch_size: int, cot_clamp: tuple[float, float]
) -> None:
    if isinstance(k_principles, bool) or not isinstance(k_principles, int) or k_principles < 1:
        raise ValueError(f"k_principles must be an int >= 1, got {k_principles!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    low, high = cot_clamp
    if not (0.0 <= low <= 0.5 <= high <= 1.0):
        raise ValueError(f"cot_clamp must satisfy 0 <= low <= 0.5 <= high <= 1, got {cot_clamp}")


def label_pairs(
    pairs: Sequence[PairToLabel],
    *,
    content: ConstitutionContent,
    backend: InferenceBackend,
    seed: int,
    k_principles: int = 1,
    mode: str = "logprob",
    cot_clamp: tuple[float, float] = (0.4, 0.6),
    cot_params: SamplingParams | None = None,
    batch_size: int = 8,
    shared_prefix: bool = True,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> list[PairLabel]:
    """Label each pair in both orders with a k-principle ensemble; one label per pair.

    Steps, per batch of ``batch_size`` pairs: draw each pair's principles (seeded by
    pair index), build 2 x k comparison requests, (CoT: generate a short reasoning
    for each and append it), score the next token over ("A", "B"), map the BA order
    back to the canonical a, average over principles, clamp (CoT only).

    ``shared_prefix`` enables the KV-cache fast path when the backend exposes a
    transformers ``model`` and ``tokenizer``; otherwise requests are still sent
    grouped by prefix. ``should_stop`` is checked between batches: the labels done
    so far are returned. ``progress(done, total)`` is called after each batch.
    """
    _check_args(k_principles, mode, batch_size, cot_clamp)
    pairs = list(pairs)
    labels: list[PairLabel] = []
    # With one principle a group has nothing to share, so the plain path is as fast.
    fast = shared_prefix and mode == "logprob" and k_principles > 1 and _has_fast_path(backend)
    params = cot_params or SamplingParams(temperature=0.0, max_new_tokens=96, seed=seed)
    for start in range(0, len(pairs), batch_size):
        if should_stop is not None and should_stop():
            break
        batch = pairs[start : start + batch_size]
        principles = [pair_principles(content, seed, p.index, k_principles) for p in batch]
        jobs: list[_Job] = []
        for position, (pair, drawn) in enumerate(zip(batch, principles, strict=True)):
            for order, first, second in (
                ("ab", pair.response_a, pair.response_b),
                ("ba", pair.response_b, pair.response_a),
            ):
                builder = cot_messages if mode == "cot" else build_comparison_messages
                requests = tuple(
                    ChatRequest(builder(pair.prompt, first, second, principle, pair.question))
                    for principle in drawn
                )
                jobs.append(_Job(position, order, requests))
        if mode == "cot":
            jobs = _add_reasoning(jobs, backend, params)
        if fast:
            slot_a = _score_groups_cached(backend, jobs)
        else:
            flat = [request for job in jobs for request in job.requests]
            scores = backend.score_choices(flat, CHOICES) if flat else []
            slot_a, at = [], 0
            for job in jobs:
                slot_a.append([row[0] for row in scores[at : at + len(job.requests)]])
                at += len(job.requests)
        by_pair: dict[tuple[int, str], list[float]] = {}
        for job, probs in zip(jobs, slot_a, strict=True):
            if mode == "cot":
                probs = [clamp(p, cot_clamp) for p in probs]
            # In order BA the canonical a sits in slot B.
            by_pair[(job.pair, job.order)] = (
                probs if job.order == "ab" else [1.0 - p for p in probs]
            )
        for position, (pair, drawn) in enumerate(zip(batch, principles, strict=True)):
            ab = by_pair[(position, "ab")]
            ba = by_pair[(position, "ba")]
            p_ab = sum(ab) / len(ab)
            p_ba = sum(ba) / len(ba)
            labels.append(
                PairLabel(
                    index=pair.index,
                    principle_keys=tuple(p.key for p in drawn),
                    principle_ids=tuple(p.id for p in drawn),
                    p_a_ab=p_ab,
                    p_a_ba=p_ba,
                    verdict_ab=verdict(p_ab),
                    verdict_ba=verdict(p_ba),
                    p_a_mean=(p_ab + p_ba) / 2.0,
                )
            )
        if progress is not None:
            progress(len(labels), len(pairs))
    return labels


def _add_reasoning(
    jobs: list[_Job], backend: InferenceBackend, params: SamplingParams
) -> list[_Job]:
    flat = [request for job in jobs for request in job.requests]
    completions = backend.generate(flat, params)
    out, at = [], 0
    for job in jobs:
        requests = tuple(
            ChatRequest(cot_scoring_messages(request.messages, completions[at + i].text))
            for i, request in enumerate(job.requests)
        )
        at += len(job.requests)
        out.append(_Job(job.pair, job.order, requests))
    return out


# -- the KV-cache fast path (transformers backend) ----------------------------


def _has_fast_path(backend: Any) -> bool:
    model = getattr(backend, "model", None)
    tokenizer = getattr(backend, "tokenizer", None)
    return (
        getattr(backend, "name", "") == "transformers"
        and model is not None
        and tokenizer is not None
        and hasattr(tokenizer, "apply_chat_template")
    )


def _common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    first = rows[0]
    length = min(len(row) for row in rows)
    for i in range(length):
        token = first[i]
        if any(row[i] != token for row in rows):
            return i
    return length


def _score_groups_cached(backend: Any, jobs: Sequence[_Job]) -> list[list[float]]:
    """P(slot A) for every request, encoding each group's shared prefix once.

    Per chunk of groups: (1) one left-padded forward pass over the groups' shared
    prefixes, keeping the KV cache; (2) the cache repeated k times along the batch;
    (3) one right-padded forward pass over every request's own suffix (the
    principle question), reading the logits at each row's last real token. The
    shared prefix is cut one token short so that every suffix has a token to read.
    """
    import torch

    from training.engine.backends.base import choice_token_ids

    tokenizer, model = backend.tokenizer, backend.model
    device = next(model.parameters()).device
    pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    if not jobs:
        return []
    texts = [
        [
            tokenizer.apply_chat_template(
                list(request.messages), add_generation_prompt=True, tokenize=False
            )
            for request in job.requests
        ]
        for job in jobs
    ]
    choice_ids = choice_token_ids(tokenizer, texts[0][0], CHOICES, backend.spec.name)
    index_tensor = torch.tensor(choice_ids, device=device)
    encoded = [tokenizer(group, add_special_tokens=False)["input_ids"] for group in texts]
    context = int(getattr(backend.spec, "context_length", 1 << 30))
    for group in encoded:
        for row in group:
            if len(row) >= context:
                from training.engine.types import BackendError

                raise BackendError(
                    f"a comparison prompt is {len(row)} tokens, beyond the context length {context}"
                )

    # Chunk so that a forward pass holds about backend.batch_size rows.
    rows_per_chunk = max(1, int(getattr(backend, "batch_size", 16)))
    results: list[list[float]] = [[] for _ in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -len(encoded[i][0]))
    chunk: list[int] = []
    chunk_rows = 0
    chunks: list[list[int]] = []
    for job_index in order:
        size = len(encoded[job_index])
        if chunk and chunk_rows + size > rows_per_chunk:
            chunks.append(chunk)
            chunk, chunk_rows = [], 0
        chunk.append(job_index)
        chunk_rows += size
    if chunk:
        chunks.append(chunk)

    for chunk in chunks:
        groups = [encoded[i] for i in chunk]
        prefix_lengths = [
            max(1, min(_common_prefix_length(g), min(len(r) for r in g) - 1)) for g in groups
        ]
        prefixes = [g[0][:n] for g, n in zip(groups, prefix_lengths, strict=True)]
        width = max(prefix_lengths)
        prefix_ids = torch.full((len(groups), width), pad_id, dtype=torch.long)
        prefix_mask = torch.zeros((len(groups), width), dtype=torch.long)
        for row, prefix in enumerate(prefixes):
            prefix_ids[row, width - len(prefix) :] = torch.tensor(prefix, dtype=torch.long)
            prefix_mask[row, width - len(prefix) :] = 1
        prefix_ids, prefix_mask = prefix_ids.to(device), prefix_mask.to(device)
        prefix_positions = (prefix_mask.cumsum(-1) - 1).clamp(min=0)

        sizes = [len(g) for g in groups]
        suffixes = [row[n:] for g, n in zip(groups, prefix_lengths, strict=True) for row in g]
        suffix_width = max(len(s) for s in suffixes)
        # Left-padded too, so every row's last real token is the last column and the
        # LM head runs on that column only (logits_to_keep=1): over a 49k vocabulary the
        # head costs more than the whole suffix otherwise. The pads sit between prefix
        # and suffix, masked out; positions skip them.
        suffix_ids = torch.full((len(suffixes), suffix_width), pad_id, dtype=torch.long)
        suffix_mask = torch.zeros((len(suffixes), suffix_width), dtype=torch.long)
        pads = []
        for row, suffix in enumerate(suffixes):
            pad = suffix_width - len(suffix)
            pads.append(pad)
            suffix_ids[row, pad:] = torch.tensor(suffix, dtype=torch.long)
            suffix_mask[row, pad:] = 1
        repeat = torch.tensor(sizes, device=device)
        full_mask = torch.cat(
            [prefix_mask.repeat_interleave(repeat, dim=0), suffix_mask.to(device)], dim=1
        )
        start = torch.tensor(prefix_lengths, device=device).repeat_interleave(repeat)
        offsets = (
            torch.arange(suffix_width, device=device)[None, :]
            - torch.tensor(pads, device=device)[:, None]
        )
        suffix_positions = start[:, None] + offsets.clamp(min=0)

        with torch.inference_mode():
            out = model(
                input_ids=prefix_ids,
                attention_mask=prefix_mask,
                position_ids=prefix_positions,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = out.past_key_values
            # Rows of one group share the group's cache entry.
            cache.batch_select_indices(
                torch.arange(len(groups), device=device).repeat_interleave(repeat)
            )
            logits = model(
                input_ids=suffix_ids.to(device),
                attention_mask=full_mask,
                position_ids=suffix_positions,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            ).logits
        picked = logits[:, -1, :]
        probs = torch.softmax(picked.float().index_select(-1, index_tensor), dim=-1)[:, 0].tolist()
        at = 0
        for job_index, size in zip(chunk, sizes, strict=True):
            results[job_index] = probs[at : at + size]
            at += size
    return results


# -- generation-based labelling (for comparison) -------------------------------

_PAREN = re.compile(r"\(\s*([AB])\s*\)")
_NAMED = re.compile(r"\b(?:response|reply|option|answer)\s*:?\s*\(?([AB])\b", re.IGNORECASE)
_BARE = re.compile(r"^[\s\W]*([AB])[\s\W]*$")


def parse_verdict(text: str) -> str | None:
    """ "A" or "B" from a generated verdict, or None when it names neither clearly.

    Tries, in order: the whole text is the letter (with punctuation or markdown
    around it); a parenthesised "(A)"; "Response A"/"Option B"; a leading letter
    followed by a non-word character ("A." / "B:"). The English article "A" inside
    a sentence is not taken as a verdict.
    """
    stripped = text.strip()
    if not stripped:
        return None
    match = _BARE.match(stripped)
    if match:
        return match.group(1)
    match = _PAREN.search(stripped)
    if match:
        return match.group(1)
    match = _NAMED.search(stripped)
    if match:
        return match.group(1).upper()
    match = re.match(r"^\W*([AB])(?:[.:)\]*,]|\s*$)", stripped)
    if match:
        return match.group(1)
    return None


def _majority(verdicts: Sequence[str | None]) -> str | None:
    parsed = [v for v in verdicts if v is not None]
    if not parsed:
        return None
    a, b = parsed.count("a"), parsed.count("b")
    return "a" if a > b else "b" if b > a else "tie"


def label_pairs_by_generation(
    pairs: Sequence[PairToLabel],
    *,
    content: ConstitutionContent,
    backend: InferenceBackend,
    seed: int,
    k_principles: int = 1,
    max_new_tokens: int = 4,
    batch_size: int = 8,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> list[GenerationLabel]:
    """Label pairs by generating a short verdict and parsing the letter (the slow baseline).

    Same prompts and principles as :func:`label_pairs`; greedy decoding. Order BA's
    letter is mapped back to the canonical a/b. Unparseable text gives None.
    """
    _check_args(k_principles, "logprob", batch_size, (0.4, 0.6))
    params = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens, seed=seed)
    labels: list[GenerationLabel] = []
    pairs = list(pairs)
    for start in range(0, len(pairs), batch_size):
        if should_stop is not None and should_stop():
            break
        batch = pairs[start : start + batch_size]
        drawn = [pair_principles(content, seed, p.index, k_principles) for p in batch]
        requests = []
        for pair, principles in zip(batch, drawn, strict=True):
            for first, second in (
                (pair.response_a, pair.response_b),
                (pair.response_b, pair.response_a),
            ):
                requests += [
                    ChatRequest(build_comparison_messages(pair.prompt, first, second, principle))
                    for principle in principles
                ]
        texts = [c.text for c in backend.generate(requests, params)]
        at = 0
        for pair, principles in zip(batch, drawn, strict=True):
            k = len(principles)
            raw_ab, raw_ba = tuple(texts[at : at + k]), tuple(texts[at + k : at + 2 * k])
            at += 2 * k
            mapping_ab = {"A": "a", "B": "b"}
            mapping_ba = {"A": "b", "B": "a"}
            ab = tuple(mapping_ab.get(parse_verdict(t) or "", None) for t in raw_ab)
            ba = tuple(mapping_ba.get(parse_verdict(t) or "", None) for t in raw_ba)
            labels.append(
                GenerationLabel(
                    index=pair.index,
                    principle_keys=tuple(p.key for p in principles),
                    verdicts_ab=ab,
                    verdicts_ba=ba,
                    verdict_ab=_majority(ab),
                    verdict_ba=_majority(ba),
                    raw_ab=raw_ab,
                    raw_ba=raw_ba,
                )
            )
        if progress is not None:
            progress(len(labels), len(pairs))
    return labels


__all__ = [
    "GenerationLabel",
    "PairLabel",
    "PairToLabel",
    "build_comparison_messages",
    "clamp",
    "label_pairs",
    "label_pairs_by_generation",
    "pair_principles",
    "parse_verdict",
    "verdict",
]
