"""Direct preference optimisation on AI-labelled pairs (trl DPOTrainer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from training.engine.trainers.callbacks import (
    StopFn,
    lora_config,
    make_callbacks,
    run_training,
    save_merged,
    training_arguments,
)
from training.engine.trainers.config import DPOConfigCAI, TrainResult
from training.engine.trainers.sft import load_tokenizer

# Robust/cDPO need epsilon < 0.5; soft labels near 0.5 would otherwise divide by ~0.
MAX_SOFT_SMOOTHING = 0.45


def resolve_label_smoothing(config: DPOConfigCAI, soft_labels: list[float] | None) -> float:
    """The epsilon to train with: the config's, or mean(1 - p_chosen) when asked for."""
    if not config.label_smoothing_from_soft_labels:
        return config.label_smoothing
    if not soft_labels:
        raise ValueError(
            "label_smoothing_from_soft_labels needs a p_chosen column in the pairs file"
        )
    flip = sum(1.0 - p for p in soft_labels) / len(soft_labels)
    return min(max(flip, 0.0), MAX_SOFT_SMOOTHING)


def build_trainer(config: DPOConfigCAI, callbacks: Sequence[Any] = ()) -> tuple[Any, float]:
    """The trl DPOTrainer for ``config`` (no cDPO resolution side effects), and its epsilon."""
    import torch
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from training.engine.trainers.data import preference_dataset

    dataset, soft = preference_dataset(config.pairs_path)
    smoothing = resolve_label_smoothing(config, soft)
    tokenizer = load_tokenizer(config.model_path)
    model = AutoModelForCausalLM.from_pretrained(
        config.model_path, dtype=torch.float32, local_files_only=True
    )
    ref_model = None
    if config.ref_model_path:
        ref_model = AutoModelForCausalLM.from_pretrained(
            config.ref_model_path, dtype=torch.float32, local_files_only=True
        )
    args = DPOConfig(
        **training_arguments(config),
        beta=config.beta,
        label_smoothing=smoothing,
        loss_type=[config.loss_type],
        max_length=config.max_length,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=ref_model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=list(callbacks),
        peft_config=lora_config(config, "CAUSAL_LM"),
    )
    return trainer, smoothing


def main(
    config: DPOConfigCAI, *, callbacks: Sequence[Any] = (), should_stop: StopFn | None = None
) -> TrainResult:
    """Train the policy with DPO on prompt/chosen/rejected pairs.

    Resumes from the newest checkpoint in ``output_dir``; saves ``final/`` (LoRA
    merged) unless stopped by ``should_stop``. ``final_metrics`` records the label
    smoothing used.
    """
    recorder, stopper, all_callbacks = make_callbacks(callbacks, should_stop)
    trainer, smoothing = build_trainer(config, all_callbacks)
    result = run_training(trainer, config, recorder, stopper, save_merged)
    result.final_metrics["label_smoothing"] = float(smoothing)
    return result
