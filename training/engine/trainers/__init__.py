"""SFT, DPO and reward-model trainers, one ``main(config)`` entry point each.

Importing this package is cheap (configs only); each ``main`` imports torch, trl
and peft when called. ``run(config)`` dispatches on the config's type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from training.engine.trainers.config import (
    BaseTrainConfig,
    ConfigError,
    DPOConfigCAI,
    RewardConfigCAI,
    SFTConfigCAI,
    TrainResult,
    load_recipe,
    trainer_name,
)
from training.engine.trainers.data import binarise


def run(
    config: BaseTrainConfig, *, callbacks: Sequence[Any] = (), should_stop: Any = None
) -> TrainResult:
    """Call the ``main`` of the trainer this config is for."""
    name = trainer_name(config)
    if name == "sft":
        from training.engine.trainers.sft import main
    elif name == "dpo":
        from training.engine.trainers.dpo import main
    else:
        from training.engine.trainers.reward import main
    return main(config, callbacks=callbacks, should_stop=should_stop)  # type: ignore[arg-type]


__all__ = [
    "BaseTrainConfig",
    "ConfigError",
    "DPOConfigCAI",
    "RewardConfigCAI",
    "SFTConfigCAI",
    "TrainResult",
    "binarise",
    "load_recipe",
    "run",
]
