"""Resolved configs of the run kinds other than critique-revision (which keeps its
config beside its pipeline in :mod:`training.engine.critique_revision`).

Plain dataclasses with ``metadata={"help": ...}`` and ``__post_init__`` range checks;
:func:`training.engine.config.config_from_dict` rebuilds each strictly. A training
run's config wraps the trainer's own config (``train``), resolved at launch with the
run's artifact folder and the model's path, so the JSON stored on the run is exactly
what the worker trains with.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from training.engine.config import ConfigError, config_from_dict
from training.engine.prompt_sets import PromptSubset, subset_problems
from training.engine.trainers.config import DPOConfigCAI, RewardConfigCAI, SFTConfigCAI

LABELLING_MODES = ("logprob", "cot")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _at_least(problems: list[str], config: Any, names: tuple[str, ...], low: int) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            problems.append(f"{name}: must be an integer >= {low}, got {value!r}")


class _Config:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        return config_from_dict(cls, data)


@dataclass(kw_only=True)
class SFTRunConfig(_Config):
    """SL-CAI fine-tuning on a critique-revision run's export."""

    train: SFTConfigCAI = field(metadata=_help("The SFT trainer's config (resolved)."))
    min_rounds: int = field(
        default=1, metadata=_help("Export only examples with at least this many revisions.")
    )

    def __post_init__(self) -> None:
        problems: list[str] = []
        _at_least(problems, self, ("min_rounds",), 1)
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass(kw_only=True)
class _PreferenceRunConfig(_Config):
    threshold: float = field(
        default=0.5,
        metadata=_help(
            "Keep a pair when the order-averaged P(a) is at least this sure either way "
            "(0.5 keeps every non-tie)."
        ),
    )

    def __post_init__(self) -> None:
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | float)
            or not 0.5 <= self.threshold < 1.0
        ):
            raise ConfigError(f"threshold: must be in [0.5, 1), got {self.threshold!r}")


@dataclass(kw_only=True)
class DPORunConfig(_PreferenceRunConfig):
    """DPO on the AI labels of a label set."""

    train: DPOConfigCAI = field(metadata=_help("The DPO trainer's config (resolved)."))


@dataclass(kw_only=True)
class RewardRunConfig(_PreferenceRunConfig):
    """A reward (preference) model on the AI labels of a label set."""

    train: RewardConfigCAI = field(metadata=_help("The reward trainer's config (resolved)."))


@dataclass(kw_only=True)
class LabellingRunConfig(PromptSubset, _Config):
    """Two sampled answers per prompt, labelled in both orders by a feedback model."""

    seed: int = field(default=0, metadata=_help("Seeds the answers and the principle draws."))
    temperature: float = field(
        default=1.0, metadata=_help("Sampling temperature of the two answers (> 0).")
    )
    top_p: float = field(default=0.95, metadata=_help("Nucleus sampling of the answers."))
    max_new_tokens: int = field(default=128, metadata=_help("Tokens per answer."))
    batch_size: int = field(
        default=8, metadata=_help("Prompts per batch; each batch is written in one transaction.")
    )
    k_principles: int = field(
        default=1, metadata=_help("Principles per pair, probabilities averaged (ensemble).")
    )
    mode: str = field(
        default="logprob", metadata=_help("'logprob' (one forward pass) or 'cot' (reason first).")
    )
    cot_clamp_low: float = field(default=0.4, metadata=_help("CoT: clamp probabilities above."))
    cot_clamp_high: float = field(default=0.6, metadata=_help("CoT: clamp probabilities below."))
    system_prompt: str = field(default="", metadata=_help("System prompt for the policy."))

    def __post_init__(self) -> None:
        problems: list[str] = []
        _at_least(problems, self, ("max_new_tokens", "batch_size", "k_principles"), 1)
        _at_least(problems, self, ("seed",), 0)
        if not _positive(self.temperature):
            problems.append(
                f"temperature: must be > 0 (two samples must differ), got {self.temperature!r}"
            )
        if not _positive(self.top_p) or self.top_p > 1:
            problems.append(f"top_p: must be in (0, 1], got {self.top_p!r}")
        problems += subset_problems(self.prompt_limit, self.prompt_subset)
        if self.mode not in LABELLING_MODES:
            problems.append(f"mode: must be one of {', '.join(LABELLING_MODES)}")
        if not 0.0 <= self.cot_clamp_low <= 0.5 <= self.cot_clamp_high <= 1.0:
            problems.append("cot_clamp: must satisfy 0 <= low <= 0.5 <= high <= 1")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass(kw_only=True)
class EvaluationRunConfig(PromptSubset, _Config):
    """Trained policy vs base on held-out red-team prompts, plus over-refusal."""

    seed: int = field(default=0, metadata=_help("Seeds the principle draws."))
    k_principles: int = field(default=1, metadata=_help("Principles per pair (ensemble)."))
    max_new_tokens: int = field(default=128, metadata=_help("Tokens per answer (greedy)."))
    batch_size: int = field(default=8, metadata=_help("Pairs per judge batch."))
    benign_limit: int = field(
        default=20, metadata=_help("How many of the built-in benign prompts to use (1-20).")
    )
    system_prompt: str = field(default="", metadata=_help("System prompt for both models."))

    def __post_init__(self) -> None:
        problems: list[str] = []
        _at_least(problems, self, ("max_new_tokens", "batch_size", "k_principles"), 1)
        _at_least(problems, self, ("seed",), 0)
        if not isinstance(self.benign_limit, int) or not 1 <= self.benign_limit <= 20:
            problems.append(
                f"benign_limit: must be an integer from 1 to 20, got {self.benign_limit!r}"
            )
        problems += subset_problems(self.prompt_limit, self.prompt_subset)
        if problems:
            raise ConfigError("; ".join(problems))


__all__ = [
    "DPORunConfig",
    "EvaluationRunConfig",
    "LABELLING_MODES",
    "LabellingRunConfig",
    "RewardRunConfig",
    "SFTRunConfig",
]
