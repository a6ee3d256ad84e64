"""Resolved configs of the RL-CAI run kinds (SFT, labelling, DPO, reward, evaluation).

Plain dataclasses with ``metadata={"help": ...}`` and ``__post_init__`` validation,
like the trainers' configs. A training run's config wraps the trainer's own config
(``train``), resolved at launch with the run's artifact folder and the model's path,
so the JSON stored on the run is exactly what the worker trains with.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from training.engine.trainers.config import (
    BaseTrainConfig,
    ConfigError,
    DPOConfigCAI,
    RewardConfigCAI,
    SFTConfigCAI,
)

LABELLING_MODES = ("logprob", "cot")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _check_known(cls: type, data: dict[str, Any]) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ConfigError(f"unknown field(s) for {cls.__name__}: {', '.join(unknown)}")


@dataclass(kw_only=True)
class SFTRunConfig:
    """SL-CAI fine-tuning on a critique-revision run's export."""

    train: SFTConfigCAI = field(metadata=_help("The SFT trainer's config (resolved)."))
    min_rounds: int = field(
        default=1, metadata=_help("Export only examples with at least this many revisions.")
    )

    def __post_init__(self) -> None:
        if isinstance(self.min_rounds, bool) or not isinstance(self.min_rounds, int):
            raise ConfigError("min_rounds: must be an integer")
        if self.min_rounds < 1:
            raise ConfigError("min_rounds: must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SFTRunConfig:
        _check_known(cls, data)
        return cls(**{**data, "train": SFTConfigCAI.from_dict(data["train"])})


@dataclass(kw_only=True)
class PreferenceRunConfig:
    """DPO or reward-model training on the AI labels of a label set."""

    train: BaseTrainConfig = field(metadata=_help("The DPO or reward trainer's config."))
    threshold: float = field(
        default=0.5,
        metadata=_help(
            "Keep a pair when the order-averaged P(a) is at least this sure either way "
            "(0.5 keeps every non-tie)."
        ),
    )

    def __post_init__(self) -> None:
        if not isinstance(self.train, DPOConfigCAI | RewardConfigCAI):
            raise ConfigError("train: must be a DPO or reward config")
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | float)
            or not 0.5 <= self.threshold < 1.0
        ):
            raise ConfigError(f"threshold: must be in [0.5, 1), got {self.threshold!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], trainer: str) -> PreferenceRunConfig:
        _check_known(cls, data)
        train_cls = DPOConfigCAI if trainer == "dpo" else RewardConfigCAI
        return cls(**{**data, "train": train_cls.from_dict(data["train"])})


@dataclass(kw_only=True)
class LabellingRunConfig:
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
        problems = []
        for name in ("max_new_tokens", "batch_size", "k_principles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}: must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"seed: must be an integer >= 0, got {self.seed!r}")
        if not _positive(self.temperature):
            problems.append(
                f"temperature: must be > 0 (two samples must differ), got {self.temperature!r}"
            )
        if not _positive(self.top_p) or self.top_p > 1:
            problems.append(f"top_p: must be in (0, 1], got {self.top_p!r}")
        if self.mode not in LABELLING_MODES:
            problems.append(f"mode: must be one of {', '.join(LABELLING_MODES)}")
        if not 0.0 <= self.cot_clamp_low <= 0.5 <= self.cot_clamp_high <= 1.0:
            problems.append("cot_clamp: must satisfy 0 <= low <= 0.5 <= high <= 1")
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabellingRunConfig:
        _check_known(cls, data)
        return cls(**data)


@dataclass(kw_only=True)
class EvaluationRunConfig:
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
        for name in ("max_new_tokens", "batch_size", "k_principles", "benign_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed: must be an integer >= 0, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationRunConfig:
        _check_known(cls, data)
        return cls(**data)


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


StageConfig = SFTRunConfig | PreferenceRunConfig | LabellingRunConfig | EvaluationRunConfig


def stage_config_from_dict(kind: str, data: dict[str, Any]) -> StageConfig:
    """The config dataclass a stage run of ``kind`` stored as JSON."""
    if kind == "sft":
        return SFTRunConfig.from_dict(data)
    if kind in ("dpo", "reward"):
        return PreferenceRunConfig.from_dict(data, kind)
    if kind == "labelling":
        return LabellingRunConfig.from_dict(data)
    if kind == "evaluation":
        return EvaluationRunConfig.from_dict(data)
    raise ConfigError(f"not a stage run kind: {kind!r}")
