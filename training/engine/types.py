"""Plain data types shared by every inference backend.

Nothing here imports torch or any other heavy package: the web process imports
this module to build specs and requests, and only GPU/CPU workers load models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ROLES = ("system", "user", "assistant")
BACKENDS = ("transformers", "vllm", "openai")
FINISH_REASONS = ("stop", "length")


class BackendError(RuntimeError):
    """An inference backend could not do what was asked (bad input, bad model, server failure)."""


@dataclass(frozen=True)
class ChatRequest:
    """One conversation to continue: a tuple of ``{"role": ..., "content": ...}`` messages."""

    messages: tuple[dict[str, str], ...]

    def __post_init__(self) -> None:
        # Accept a list for convenience but store a tuple, so the request stays hashable-ish
        # and nobody mutates a batch under a backend's feet.
        if not isinstance(self.messages, tuple):
            object.__setattr__(self, "messages", tuple(self.messages))
        if not self.messages:
            raise ValueError("ChatRequest needs at least one message")
        for index, message in enumerate(self.messages):
            if not isinstance(message, dict):
                raise ValueError(f"message {index} must be a dict, got {type(message).__name__}")
            role = message.get("role")
            if role not in ROLES:
                raise ValueError(f"message {index} has role {role!r}; expected one of {ROLES}")
            if not isinstance(message.get("content"), str):
                raise ValueError(f"message {index} needs a string 'content'")

    @classmethod
    def from_user(cls, content: str, system: str | None = None) -> ChatRequest:
        """A one-turn request: an optional system prompt, then ``content`` as the user."""
        messages: list[dict[str, str]] = []
        if system is not None:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": content})
        return cls(messages=tuple(messages))


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. ``temperature == 0`` means greedy decoding."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 256
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= float(self.temperature) <= 10.0):
            raise ValueError(f"temperature must be in [0, 10], got {self.temperature}")
        if not (0.0 < float(self.top_p) <= 1.0):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int):
            raise ValueError(f"max_new_tokens must be an int, got {self.max_new_tokens!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0
        ):
            raise ValueError(f"seed must be None or a non-negative int, got {self.seed!r}")

    @property
    def greedy(self) -> bool:
        """True when decoding takes the most likely token every step."""
        return self.temperature == 0.0


@dataclass(frozen=True)
class Completion:
    """What a backend produced for one request.

    A NUL character in ``text`` becomes U+FFFD (the replacement character): a model can
    emit one (a random-weight model often does), and PostgreSQL refuses NUL in text,
    which would fail the whole batch at the store.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"

    def __post_init__(self) -> None:
        if "\x00" in self.text:
            object.__setattr__(self, "text", self.text.replace("\x00", "\ufffd"))


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how. ``options`` carries backend-specific knobs.

    Known options: transformers: ``static_cache`` (bool, CUDA only, default True),
    ``batch_size`` (int), ``threads`` (torch CPU threads, process-wide); vllm: ``tensor_parallel_size``, ``gpu_memory_utilization``,
    ``tokenizer``; openai: ``model``, ``concurrency``, ``timeout``, ``max_retries``,
    ``backoff``.
    """

    name: str
    backend: str
    path: str = ""
    gguf_file: str = ""
    dtype: str = "auto"
    context_length: int = 2048
    base_url: str = ""
    api_key: str = ""
    device: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("ModelSpec.name must not be empty")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; expected one of {BACKENDS}")
        if self.context_length < 1:
            raise ValueError(f"context_length must be >= 1, got {self.context_length}")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("the openai backend needs base_url")
        if self.backend in ("transformers", "vllm") and not self.path:
            raise ValueError(
                f"the {self.backend} backend needs path (a local folder or .gguf file)"
            )


@runtime_checkable
class InferenceBackend(Protocol):
    """What the rest of the app may ask of a loaded model."""

    name: str
    spec: ModelSpec

    def generate(self, requests: Sequence[ChatRequest], params: SamplingParams) -> list[Completion]:
        """Continue each conversation; one completion per request, in the same order."""
        ...

    def score_choices(
        self, requests: Sequence[ChatRequest], choices: Sequence[str]
    ) -> list[list[float]]:
        """For each request, P(next assistant token = each choice's token), normalised to sum to 1."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is for this model (no special tokens added)."""
        ...

    def close(self) -> None:
        """Free the model, the server connection or the GPU memory."""
        ...
