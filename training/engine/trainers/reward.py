"""A preference (reward) model on AI-labelled pairs (trl RewardTrainer), and its accuracy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from training.engine.trainers.callbacks import (
    StopFn,
    lora_config,
    make_callbacks,
    run_training,
    save_merged,
    training_arguments,
)
from training.engine.trainers.config import RewardConfigCAI, TrainResult
from training.engine.trainers.sft import load_tokenizer


def load_reward_model(model_path: str | Path, tokenizer: Any) -> Any:
    """A one-output sequence classifier from a causal-LM (or reward) folder, pad id set."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_path), num_labels=1, dtype=torch.float32, local_files_only=True
    )
    # The classifier reads the last non-pad token, so it must know the pad id.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def main(
    config: RewardConfigCAI, *, callbacks: Sequence[Any] = (), should_stop: StopFn | None = None
) -> TrainResult:
    """Train a reward model; report held-out accuracy as ``final_metrics['eval_accuracy']``.

    ``eval_fraction`` of the pairs (seeded split) is held out when the file has at
    least two pairs. Resumes from the newest checkpoint; saves ``final/``.
    """
    from trl import RewardConfig, RewardTrainer

    from training.engine.trainers.data import preference_dataset

    dataset, _ = preference_dataset(config.pairs_path)
    eval_dataset = None
    if config.eval_fraction > 0 and len(dataset) >= 2:
        split = dataset.train_test_split(test_size=config.eval_fraction, seed=config.seed)
        dataset, eval_dataset = split["train"], split["test"]
    tokenizer = load_tokenizer(config.model_path)
    model = load_reward_model(config.model_path, tokenizer)
    args = RewardConfig(
        **training_arguments(config),
        max_length=config.max_length,
        center_rewards_coefficient=config.center_rewards_coefficient,
    )
    recorder, stopper, all_callbacks = make_callbacks(callbacks, should_stop)
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        callbacks=all_callbacks,
        peft_config=lora_config(config, "SEQ_CLS"),
    )
    return run_training(
        trainer, config, recorder, stopper, save_merged, evaluate=eval_dataset is not None
    )


def _text(tokenizer: Any, prompt: Any, answer: Any) -> str:
    if isinstance(prompt, str) and isinstance(answer, str):
        return prompt + answer
    messages = (
        list(prompt) if not isinstance(prompt, str) else [{"role": "user", "content": prompt}]
    )
    messages += (
        [{"role": "assistant", "content": answer}] if isinstance(answer, str) else list(answer)
    )
    return tokenizer.apply_chat_template(messages, tokenize=False)


def reward_scores(
    model_dir: str | Path, prompts_and_answers: Sequence[tuple[Any, Any]], batch_size: int = 8
) -> list[float]:
    """The reward model's score for each (prompt, answer), text or messages."""
    import torch

    tokenizer = load_tokenizer(str(model_dir))
    tokenizer.padding_side = "right"
    model = load_reward_model(model_dir, tokenizer).eval()
    texts = [_text(tokenizer, p, a) for p, a in prompts_and_answers]
    scores: list[float] = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size],
            padding=True,
            truncation=True,
            return_tensors="pt",
            add_special_tokens=False,
        )
        with torch.inference_mode():
            scores += model(**batch).logits[:, 0].float().tolist()
    return scores


def evaluate_reward_accuracy(model_dir: str | Path, pairs: Iterable[Mapping[str, Any]]) -> float:
    """Share of pairs (prompt, chosen, rejected) where reward(chosen) > reward(rejected)."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("evaluate_reward_accuracy needs at least one pair")
    inputs = [(p["prompt"], p["chosen"]) for p in pairs] + [
        (p["prompt"], p["rejected"]) for p in pairs
    ]
    scores = reward_scores(model_dir, inputs)
    n = len(pairs)
    return sum(scores[i] > scores[n + i] for i in range(n)) / n
