"""Trainer callbacks (live metrics, cooperative stop) and the shared run loop.

transformers is imported lazily: ``MetricsCallback`` and ``StopCallback`` are
built by ``make_callbacks`` inside a worker, where torch is already loaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.engine.trainers.config import BaseTrainConfig, TrainResult

if TYPE_CHECKING:
    from transformers import Trainer

MetricsSink = Callable[[int, dict[str, float]], None]
StopFn = Callable[[], bool]


def _clean(logs: dict[str, Any]) -> dict[str, float]:
    """Numbers only, as floats (a sink writes them to JSON, which has no tensor type)."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[key] = float(value)
        elif hasattr(value, "item"):
            try:
                out[key] = float(value.item())
            except (TypeError, ValueError, RuntimeError):
                continue
    return out


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


_CLASSES: dict[str, type] = {}


def _classes() -> dict[str, type]:
    """Build the callback classes on first use, so importing this module stays light."""
    if _CLASSES:
        return _CLASSES
    base = _callback_base()

    class MetricsCallback(base):  # type: ignore[misc, valid-type]
        """Hands every ``on_log`` (loss, rewards/margins, learning_rate...) to ``sink(step, metrics)``.

        Only the main process calls the sink, so under ``accelerate launch`` one row
        is written per logging step, not one per GPU. ``history`` keeps them too.
        """

        def __init__(self, sink: MetricsSink | None = None) -> None:
            self.sink = sink
            self.history: list[tuple[int, dict[str, float]]] = []

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if not logs or not state.is_world_process_zero:
                return
            metrics = _clean(logs)
            self.history.append((int(state.global_step), metrics))
            if self.sink is not None:
                self.sink(int(state.global_step), metrics)

    class StopCallback(base):  # type: ignore[misc, valid-type]
        """Saves a checkpoint and stops training when ``should_stop()`` returns True.

        Checked after every optimizer step. ``should_stop`` should answer the same on
        every process (read a database flag, not a local signal) so that all ranks
        stop on the same step. ``stopped`` tells afterwards whether it fired.
        """

        def __init__(self, should_stop: StopFn) -> None:
            self.should_stop = should_stop
            self.stopped = False

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if _agreed(bool(self.should_stop()) if state.is_world_process_zero else False, args):
                self.stopped = True
                # The trainer saves checkpoint-<step> before it honours the stop.
                control.should_save = True
                control.should_training_stop = True
            return control

    _CLASSES["MetricsCallback"] = MetricsCallback
    _CLASSES["StopCallback"] = StopCallback
    return _CLASSES


def _agreed(flag: bool, args: Any) -> bool:
    """Rank 0's ``flag`` on every rank (DDP); the flag itself in one process.

    Every rank must stop on the same step or the others hang in the next all-reduce,
    so only rank 0 asks and the answer is shared.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=args.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)


def __getattr__(name: str) -> Any:
    # ``from ...callbacks import MetricsCallback`` builds the classes (imports transformers).
    if name in ("MetricsCallback", "StopCallback"):
        return _classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _checkpointing_field() -> str:
    """transformers 5.23 (.venv) calls it activation_checkpointing; 5.19 (.venv-vllm, the
    GPU image's 5.20) gradient_checkpointing."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )


def training_arguments(config: BaseTrainConfig) -> dict[str, Any]:
    """The TrainingArguments fields every trl config shares, resolved for this machine.

    bf16 and gradient checkpointing are trl defaults that break or crawl on CPU, so
    they are on only when CUDA is available and the config asks.
    """
    import torch

    cuda = torch.cuda.is_available()
    return {
        "output_dir": config.output_dir,
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "warmup_steps": config.warmup_steps,
        "per_device_train_batch_size": config.per_device_batch_size,
        "per_device_eval_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "seed": config.seed,
        "bf16": bool(cuda and config.bf16),
        "fp16": False,
        # It wins over trl's gradient_checkpointing=True default.
        _checkpointing_field(): bool(cuda and config.gradient_checkpointing),
        "report_to": list(config.report_to) or "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        # Without CUDA, DDP ranks (accelerate launch) must use gloo on CPU; one process
        # is unaffected.
        "use_cpu": not cuda,
    }


def lora_config(config: BaseTrainConfig, task_type: str) -> Any:
    """A peft LoraConfig from the config's lora_* fields, or None when use_lora is off."""
    if not config.use_lora:
        return None
    from peft import LoraConfig

    targets: Any = list(config.lora_target_modules)
    if targets == ["all-linear"]:
        targets = "all-linear"
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        task_type=task_type,
        # The reward head is new: it must train and be saved with the adapter.
        modules_to_save=["score"] if task_type == "SEQ_CLS" else None,
    )


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` folder under ``output_dir``, or None."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    return get_last_checkpoint(str(folder))


def make_callbacks(
    callbacks: Sequence[Any], should_stop: StopFn | None
) -> tuple[Any, Any, list[Any]]:
    """(our metrics callback, our stop callback or None, all callbacks for the trainer).

    ``callbacks`` may hold TrainerCallback instances or plain ``sink(step, metrics)``
    functions, each wrapped in its own MetricsCallback.
    """
    base = _callback_base()
    classes = _classes()
    recorder = classes["MetricsCallback"](None)
    stopper = classes["StopCallback"](should_stop) if should_stop is not None else None
    extra: list[Any] = []
    for callback in callbacks:
        if isinstance(callback, base) or isinstance(callback, type):
            extra.append(callback)
        elif callable(callback):
            extra.append(classes["MetricsCallback"](callback))
        else:
            raise TypeError(
                f"callbacks must be TrainerCallbacks or sink functions, got {callback!r}"
            )
    all_callbacks = [recorder, *extra] + ([stopper] if stopper is not None else [])
    return recorder, stopper, all_callbacks


def run_training(
    trainer: Trainer,
    config: BaseTrainConfig,
    recorder: Any,
    stopper: Any,
    save_final: Callable[[Trainer, Path], None],
    evaluate: bool = False,
) -> TrainResult:
    """Train (resuming from the last checkpoint if any), evaluate, save final/, report.

    A run stopped by ``should_stop`` keeps its checkpoint and saves no final model:
    running ``main`` again resumes it.
    """
    resume = last_checkpoint(config.output_dir)
    output = trainer.train(resume_from_checkpoint=resume)
    final_metrics = _clean(dict(output.metrics))
    stopped = bool(stopper is not None and stopper.stopped)
    final_dir: str | None = None
    if not stopped:
        if evaluate:
            final_metrics.update(_clean(trainer.evaluate()))
        final = config.final_dir
        save_final(trainer, final)
        final_dir = str(final)
    final_metrics["world_size"] = float(trainer.args.world_size)
    losses = [m["loss"] for _, m in recorder.history if "loss" in m]
    if losses and not all(math.isfinite(x) for x in losses):
        final_metrics["nonfinite_loss"] = 1.0
    return TrainResult(
        output_dir=config.output_dir,
        metrics_history=list(recorder.history),
        final_metrics=final_metrics,
        global_step=int(trainer.state.global_step),
        resumed_from=resume,
        stopped=stopped,
        final_dir=final_dir,
    )


def save_merged(trainer: Trainer, dest: Path) -> None:
    """Save the trained model as a plain folder (LoRA merged into the weights) + tokenizer."""
    trainer.accelerator.wait_for_everyone()
    if not trainer.accelerator.is_main_process:
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        # merge_and_unload edits the wrapped model in place; the run is over, so that is fine.
        model = model.merge_and_unload()
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    trainer.processing_class.save_pretrained(dest)
