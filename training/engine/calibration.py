"""Labeller calibration on a gold label set: the config a calibration run stores.

The work itself is the labelling run's labeller (:func:`training.engine.labeller.label_pairs`:
log-prob or CoT, both orders, a k-principle ensemble) on comparisons whose right answer
a person already gave; the figures (accuracy with its Wilson interval, position
consistency, calibration bins) are the audit's own (``labelling.stats``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from training.engine.config import ConfigError, config_from_dict

CALIBRATION_MODES = ("logprob", "cot")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(kw_only=True)
class CalibrationRunConfig:
    """A judge model labels a gold set's comparisons in both orders."""

    seed: int = field(default=0, metadata=_help("Seeds the principle draws."))
    k_principles: int = field(
        default=1, metadata=_help("Principles per pair, probabilities averaged (ensemble).")
    )
    mode: str = field(
        default="logprob", metadata=_help("'logprob' (one forward pass) or 'cot' (reason first).")
    )
    cot_clamp_low: float = field(default=0.4, metadata=_help("CoT: clamp probabilities above."))
    cot_clamp_high: float = field(default=0.6, metadata=_help("CoT: clamp probabilities below."))
    batch_size: int = field(
        default=8, metadata=_help("Pairs per batch; each batch is written in one transaction.")
    )
    pair_limit: int = field(
        default=0, metadata=_help("Judge only the set's first N gold pairs (0: all of them).")
    )

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name, least in (("k_principles", 1), ("batch_size", 1), ("seed", 0), ("pair_limit", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                problems.append(f"{name}: must be an integer >= {least}, got {value!r}")
        if self.mode not in CALIBRATION_MODES:
            problems.append(f"mode: must be one of {', '.join(CALIBRATION_MODES)}")
        low, high = self.cot_clamp_low, self.cot_clamp_high
        if not (
            isinstance(low, int | float)
            and isinstance(high, int | float)
            and 0.0 <= low <= 0.5 <= high <= 1.0
        ):
            problems.append("cot_clamp: must satisfy 0 <= low <= 0.5 <= high <= 1")
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationRunConfig:
        return config_from_dict(cls, data)


__all__ = ["CALIBRATION_MODES", "CalibrationRunConfig"]
