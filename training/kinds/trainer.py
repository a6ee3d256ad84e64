"""What the kinds that run a trainer (SFT, DPO, reward) share: the options a launcher
may set, resolving the trainer config into the run's folder, and running it with the
shard context's metrics sink and stop flag, registering the model it made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.artifacts import run_dir
from training.engine.config import ConfigError, config_from_dict
from training.errors import TrainingError
from training.forms import TRAIN_OPTIONS
from training.models import ModelEntry, Run
from training.services.models import trained_model_register
from training.shards import ShardContext


def default_steps(options: dict[str, Any]) -> int:
    """The run's step count (its progress total) from the launch options."""
    train = options.get("train") or {}
    if not isinstance(train, dict):
        raise TrainingError("train: must be a mapping of trainer options.", field="config")
    steps = train.get("max_steps", 100)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise TrainingError(
            f"train.max_steps: must be an integer >= 1, got {steps!r}", field="max_steps"
        )
    return steps


def resolve(
    run_config_class: type, options: dict[str, Any], run: Run, model: ModelEntry, **paths: str
) -> Any:
    """The run config with its trainer config resolved into the run's folder.

    A launcher sets only :data:`~training.forms.TRAIN_OPTIONS`; the model path and the
    output, dataset and pairs paths are the run's. Logging and checkpoint intervals
    default to a fraction of the steps.
    """
    options = dict(options)
    train = dict(options.pop("train", None) or {})
    unknown = sorted(set(train) - set(TRAIN_OPTIONS))
    if unknown:
        raise TrainingError(f"Unknown training option(s): {', '.join(unknown)}.", field="config")
    steps = default_steps({"train": train})
    train.setdefault("max_steps", steps)
    train.setdefault("logging_steps", max(1, steps // 200))
    train.setdefault("save_steps", max(1, min(100, steps // 4 or 1)))
    folder = run_dir(run)
    resolved = {
        "model_path": model.path,
        "output_dir": str(folder / "train"),
        **{name: str(folder / rel) for name, rel in paths.items()},
    }
    try:
        return config_from_dict(run_config_class, {**options, "train": {**train, **resolved}})
    except ConfigError as exc:
        raise TrainingError(f"Invalid training options: {exc}", field="config") from None


def train(ctx: ShardContext, train_config: Any) -> tuple[bool, dict[str, Any]]:
    """Run the trainer (resuming from its newest checkpoint) and register the final model."""
    from training.engine.trainers import run as run_trainer

    ctx.progress(0, stage="training")
    result = run_trainer(train_config, callbacks=[ctx.log_metrics], should_stop=ctx.should_stop)
    summary: dict[str, Any] = {
        "global_step": result.global_step,
        "resumed_from": result.resumed_from,
        "final_metrics": result.final_metrics,
        "stopped": result.stopped,
    }
    resumes = list(ctx.stored_result().get("resumes", []))
    if result.resumed_from:
        resumes.append(Path(result.resumed_from).name)
    summary["resumes"] = resumes
    if result.stopped or result.final_dir is None:
        return False, summary
    if result.final_metrics.get("nonfinite_loss"):
        raise ValueError("the loss became NaN or infinite; nothing was registered")
    entry = trained_model_register(run=ctx.run, final_dir=result.final_dir)
    summary["model_id"] = entry.pk
    summary["final_dir"] = result.final_dir
    return True, summary


LOSS = ("loss", "Training loss per step", ("loss", "eval_loss"))


def charts_of(*groups: tuple[str, str, tuple[str, ...]]) -> Any:
    """A kind's ``charts(run)``: its metric groups drawn from the run's RunMetric rows."""

    def charts(run: Run) -> list[Any]:
        from training.charts import metric_charts
        from training.selectors import run_metric_series

        return metric_charts(run_metric_series(run), groups)

    return charts


__all__ = ["LOSS", "charts_of", "default_steps", "resolve", "train"]
