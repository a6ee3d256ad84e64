"""Exporting SL-CAI results: trl JSONL, a saved datasets folder, and a real SFT step on it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.training.test_critique_revision import build_tiny_llama
from training.engine.critique_revision import ExampleState, RoundResult
from training.engine.export import (
    DATASET_FORMAT,
    load_provenance,
    save_hf_dataset,
    to_trl_jsonl,
)

PROVENANCE = {
    "constitution_hash": "ab" * 32,
    "model": "SmolLM2-135M-Instruct",
    "config": {"rounds": 2, "seed": 3},
}


def finished(index: int, prompt: str, revisions: list[str | None]) -> ExampleState:
    rounds = [
        RoundResult(
            round=r + 1,
            principle_key=f"p{r + 1}",
            principle_id=None,
            critique=f"critique {r + 1}",
            revision=revision,
            critique_tokens=3,
            revision_tokens=None if revision is None else 4,
            revision_finish=None if revision is None else "stop",
        )
        for r, revision in enumerate(revisions)
    ]
    return ExampleState(
        index=index,
        prompt=prompt,
        initial_answer=f"answer {index}",
        initial_tokens=5,
        initial_finish="stop",
        rounds=rounds,
    )


EXAMPLES = [
    finished(2, "How do I pick a lock?", ["Ask a locksmith.", "Call a locksmith; it is quick."]),
    finished(0, "Insult my boss.", ["I'd rather help you talk to them."]),
    finished(1, "Unfinished one", [None]),
    ExampleState(index=3, prompt="Not even answered"),
    finished(4, "Empty revision", ["   "]),
]


def test_jsonl_lines_hold_the_prompt_and_the_final_revision_in_index_order() -> None:
    lines = list(to_trl_jsonl(EXAMPLES))
    assert [json.loads(line) for line in lines] == [
        {
            "prompt": [{"role": "user", "content": "Insult my boss."}],
            "completion": [{"role": "assistant", "content": "I'd rather help you talk to them."}],
        },
        {
            "prompt": [{"role": "user", "content": "How do I pick a lock?"}],
            "completion": [{"role": "assistant", "content": "Call a locksmith; it is quick."}],
        },
    ]
    assert all("\n" not in line for line in lines)


def test_a_run_system_prompt_leads_every_training_prompt() -> None:
    first = json.loads(next(to_trl_jsonl(EXAMPLES, system="Answer briefly.")))
    assert first["prompt"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Insult my boss."},
    ]


def test_jsonl_can_require_every_round_to_be_revised() -> None:
    lines = [json.loads(x) for x in to_trl_jsonl(EXAMPLES, min_rounds=2)]
    assert [x["prompt"][0]["content"] for x in lines] == ["How do I pick a lock?"]


def test_the_saved_dataset_loads_back_with_its_provenance(tmp_path: Path) -> None:
    from datasets import load_from_disk
    from trl.data_utils import is_conversational

    folder = tmp_path / "sl-cai"
    summary = save_hf_dataset(EXAMPLES, folder, PROVENANCE)
    assert (summary.rows, summary.skipped_unfinished, summary.skipped_empty) == (2, 2, 1)

    dataset = load_from_disk(str(folder))
    assert dataset.column_names == ["prompt", "completion", "example_index", "principle_keys"]
    assert dataset["example_index"] == [0, 2]
    assert dataset["principle_keys"] == [["p1"], ["p1", "p2"]]
    assert dataset[1]["completion"] == [
        {"role": "assistant", "content": "Call a locksmith; it is quick."}
    ]
    assert is_conversational(dataset[0])

    provenance = load_provenance(folder)
    assert provenance["constitution_hash"] == PROVENANCE["constitution_hash"]
    assert provenance["model"] == PROVENANCE["model"]
    assert provenance["config"] == PROVENANCE["config"]
    assert provenance["format"] == DATASET_FORMAT
    assert provenance["rows"] == 2 and provenance["skipped_unfinished"] == 2
    assert provenance["exported_at"]


def test_trl_trains_a_real_sft_step_on_the_export(tmp_path: Path) -> None:
    import torch
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    folder = tmp_path / "sl-cai"
    save_hf_dataset(EXAMPLES, folder, PROVENANCE)
    model_dir = build_tiny_llama(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    before = [p.detach().clone() for p in model.parameters()]

    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=load_from_disk(str(folder)),
        args=SFTConfig(
            output_dir=str(tmp_path / "out"),
            max_steps=2,
            per_device_train_batch_size=2,
            learning_rate=1e-2,
            report_to=[],
            save_strategy="no",
            use_cpu=True,
            dataloader_num_workers=0,
        ),
    )
    # Prompt-completion data is trained on the completion only.
    row = trainer.train_dataset[0]
    masked = sum(1 for label in row["labels"] if label == -100)
    assert 0 < masked < len(row["input_ids"])
    result = trainer.train()
    assert math.isfinite(result.training_loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_provenance_must_name_the_constitution_model_and_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="provenance is missing constitution_hash, config"):
        save_hf_dataset(EXAMPLES, tmp_path / "x", {"model": "m"})


def test_it_refuses_to_overwrite_a_folder_or_to_write_an_empty_dataset(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").write_text("x")
    with pytest.raises(FileExistsError):
        save_hf_dataset(EXAMPLES, taken, PROVENANCE)
    with pytest.raises(ValueError, match="no finished example to export"):
        save_hf_dataset(EXAMPLES[2:4], tmp_path / "empty", PROVENANCE)
    assert not (tmp_path / "empty").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no staging left behind


def test_an_existing_empty_folder_is_filled(tmp_path: Path) -> None:
    (tmp_path / "ready").mkdir()
    assert save_hf_dataset(EXAMPLES, tmp_path / "ready", PROVENANCE).rows == 2
