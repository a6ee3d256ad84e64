"""Supervised fine-tuning on the SL-CAI critique-revision dataset (trl SFTTrainer)."""

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
from training.engine.trainers.config import SFTConfigCAI, TrainResult


def load_tokenizer(model_path: str) -> Any:
    """The model's tokenizer with a pad token (the end-of-sequence token if none is declared)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def main(
    config: SFTConfigCAI, *, callbacks: Sequence[Any] = (), should_stop: StopFn | None = None
) -> TrainResult:
    """Fine-tune ``config.model_path`` on prompt/completion records; loss on completions only.

    Resumes from the newest checkpoint in ``output_dir``; saves ``final/`` (LoRA
    merged) unless stopped by ``should_stop``.
    """
    import torch
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from training.engine.trainers.data import sft_dataset

    dataset = sft_dataset(config.dataset_path)
    tokenizer = load_tokenizer(config.model_path)
    model = AutoModelForCausalLM.from_pretrained(
        config.model_path, dtype=torch.float32, local_files_only=True
    )
    args = SFTConfig(
        **training_arguments(config),
        max_length=config.max_length,
        completion_only_loss=config.completion_only_loss,
        packing=False,
    )
    recorder, stopper, all_callbacks = make_callbacks(callbacks, should_stop)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=all_callbacks,
        peft_config=lora_config(config, "CAUSAL_LM"),
    )
    return run_training(trainer, config, recorder, stopper, save_merged)
