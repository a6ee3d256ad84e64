"""Helpers every backend shares: argument checks, length bucketing, choice normalisation.

Pure Python (``math`` only), so the web process may import it freely.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from training.engine.types import BackendError, ChatRequest

T = TypeVar("T")


def check_choices(choices: Sequence[str]) -> list[str]:
    """Refuse an empty, blank or repeated choice list before any model work starts."""
    if isinstance(choices, str):
        raise BackendError("choices must be a sequence of strings, not one string")
    result = list(choices)
    if len(result) < 2:
        raise BackendError(f"score_choices needs at least two choices, got {result!r}")
    for choice in result:
        if not isinstance(choice, str) or not choice:
            raise BackendError(f"every choice must be a non-empty string, got {choice!r}")
    if len(set(result)) != len(result):
        raise BackendError(f"choices must be distinct, got {result!r}")
    return result


def check_requests(requests: Sequence[ChatRequest]) -> list[ChatRequest]:
    """Return the requests as a list, refusing anything that is not a ChatRequest."""
    result = list(requests)
    for index, request in enumerate(result):
        if not isinstance(request, ChatRequest):
            raise BackendError(f"request {index} is {type(request).__name__}, not ChatRequest")
    return result


def choice_token_ids(
    tokenizer: Any, prompt_text: str, choices: Sequence[str], model_name: str
) -> list[int]:
    """The token id of each choice when it directly follows ``prompt_text``.

    Encoded in context (prompt + choice) rather than alone, since tokenizers that
    mark word starts give a different id for a bare "A". Raises BackendError unless
    every choice is exactly one token there and the ids are distinct.
    """
    prompt_ids = list(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    ids = []
    for choice in choices:
        joined = list(tokenizer(prompt_text + choice, add_special_tokens=False)["input_ids"])
        extra = joined[len(prompt_ids) :]
        if joined[: len(prompt_ids)] != prompt_ids or len(extra) != 1:
            pieces = tokenizer.convert_ids_to_tokens(extra)
            raise BackendError(
                f"choice {choice!r} is not a single token after the assistant prompt of "
                f"{model_name!r} (it encodes as {pieces!r}); use short choices like 'A'/'B'"
            )
        ids.append(int(extra[0]))
    if len(set(ids)) != len(ids):
        raise BackendError(f"choices {list(choices)!r} share a token for {model_name!r}")
    return ids


def length_batches(
    items: Sequence[T], key: Callable[[T], int], batch_size: int
) -> Iterator[list[int]]:
    """Yield index lists of at most ``batch_size``, grouping items of similar length.

    Sorting by length keeps left padding (and so wasted compute) small; the caller
    writes results back by index, so the original order is restored for free.
    """
    if batch_size < 1:
        raise BackendError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(items)), key=lambda i: key(items[i]), reverse=True)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def softmax(logits: Sequence[float]) -> list[float]:
    """A numerically stable softmax over a short list of floats."""
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [x / total for x in exps]


def normalise_with_floor(
    choice_masses: Sequence[float], listed_logprobs: Sequence[float]
) -> list[float]:
    """Renormalise per-choice probability masses taken from a top-k list.

    A choice with no mass (absent from the top-k) gets the floor: the smallest
    probability listed, an upper bound on its true mass since it ranked below all of
    them. Uniform when no choice was listed at all.
    """
    if not listed_logprobs:
        raise BackendError("the model returned no top logprobs to score choices with")
    floor = math.exp(min(listed_logprobs))
    masses = [mass if mass > 0.0 else floor for mass in choice_masses]
    total = sum(masses)
    return [mass / total for mass in masses]


def probabilities_from_top_logprobs(
    top_logprobs: Iterable[tuple[str, float]], choices: Sequence[str]
) -> list[float]:
    """Turn a server's top-k next-token ``(token, logprob)`` pairs into a distribution over ``choices``.

    A token matches a choice when it equals the choice, ignoring surrounding
    whitespace ("A" and " A" both answer A; their masses add up). Absent choices get
    the floor of ``normalise_with_floor``.
    """
    pairs = [(token, float(logprob)) for token, logprob in top_logprobs]
    masses = [0.0] * len(choices)
    for token, logprob in pairs:
        stripped = token.strip()
        for index, choice in enumerate(choices):
            if token == choice or stripped == choice.strip():
                masses[index] += math.exp(logprob)
    return normalise_with_floor(masses, [logprob for _, logprob in pairs])
