"""SFT, DPO and reward-model trainers, one ``main(config)`` entry point each.

Importing this package is cheap (configs only); each ``main`` imports torch, trl
and peft when called. ``run(config)`` dispatches on the config's type.
"""

from __future__ import annotations

import os
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
    """Call the ``main`` of the trainer this config is for.

    With ``num_processes > 1`` (and not already inside a launched rank) the trainer runs
    under ``accelerate launch`` instead (training.engine.trainers.launch); ``callbacks``
    must then be plain ``sink(step, metrics)`` functions, which get rank 0's metrics.
    """
    if config.num_processes > 1 and "LOCAL_RANK" not in os.environ:
        from training.engine.trainers.launch import launch

        sinks = list(callbacks)
        if not all(callable(s) and not isinstance(s, type) for s in sinks):
            raise TypeError("a multi-process run takes sink(step, metrics) functions as callbacks")

        def sink(step: int, metrics: dict[str, float]) -> None:
            for each in sinks:
                each(step, metrics)

        return launch(config, sink=sink, should_stop=should_stop)
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
