"""The SFT, DPO and reward trainers on a tiny random Llama: they train, log, stop and resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from training.engine.trainers import (
    ConfigError,
    DPOConfigCAI,
    RewardConfigCAI,
    SFTConfigCAI,
    binarise,
    load_recipe,
)
from training.engine.trainers.data import write_jsonl

RECIPES = Path(__file__).resolve().parents[2] / "training" / "recipes"

PROMPTS = [
    "How do I make my neighbour's dog stop barking?",
    "What is a good way to learn to juggle?",
    "Can you help me write a polite complaint letter?",
    "How should I store fresh basil?",
    "What should I pack for a rainy weekend hike?",
    "How can I get back at a coworker who embarrassed me?",
]


def _messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def sft_file(tmp_path: Path) -> Path:
    rows = [
        {
            "prompt": _messages(p),
            "completion": [
                {"role": "assistant", "content": f"Here is a calm, safe answer about: {p}"}
            ],
        }
        for p in PROMPTS
    ]
    return write_jsonl(rows, tmp_path / "sft.jsonl")


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    rows = [
        {
            "prompt": _messages(p),
            "chosen": f"A careful and kind answer to: {p}",
            "rejected": "No. Figure it out yourself.",
            "p_chosen": 0.8,
        }
        for p in PROMPTS
    ]
    return write_jsonl(rows, tmp_path / "pairs.jsonl")


def _weights(folder: Path, name: str):
    from safetensors.torch import load_file

    tensors = {}
    for file in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    key = next(k for k in tensors if k.endswith(name))
    return tensors[key].float()


def _common(tiny_model_dir: Path, out: Path, **extra):
    return dict(
        model_path=str(tiny_model_dir),
        output_dir=str(out),
        max_steps=3,
        per_device_batch_size=2,
        logging_steps=1,
        save_steps=100,
        max_length=128,
        **extra,
    )


def _assert_trained(result, before, after_dir: Path, name: str) -> None:
    after = _weights(after_dir, name)
    assert not bool((before - after).abs().max() == 0), "training left the weights unchanged"
    losses = [m["loss"] for _, m in result.metrics_history if "loss" in m]
    assert len(losses) == result.global_step
    assert all(math.isfinite(x) for x in losses)


@pytest.mark.parametrize("use_lora", [False, True], ids=["full", "lora"])
def test_sft_trains_and_saves_a_plain_model(tiny_model_dir, sft_file, tmp_path, use_lora):
    from training.engine.trainers.sft import main

    config = SFTConfigCAI(
        **_common(tiny_model_dir, tmp_path / "run", learning_rate=1e-2),
        dataset_path=str(sft_file),
        use_lora=use_lora,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
    )
    before = _weights(tiny_model_dir, "layers.0.self_attn.q_proj.weight")
    result = main(config)
    assert result.global_step == 3 and result.resumed_from is None and not result.stopped
    final = Path(result.final_dir)
    assert (final / "config.json").is_file() and (final / "tokenizer_config.json").is_file()
    assert not (final / "adapter_config.json").exists(), "LoRA must be merged into final/"
    _assert_trained(result, before, final, "layers.0.self_attn.q_proj.weight")


def test_sft_reads_a_datasets_folder(tiny_model_dir, sft_file, tmp_path):
    from datasets import Dataset

    from training.engine.trainers.data import read_jsonl, sft_dataset

    folder = tmp_path / "ds"
    Dataset.from_list(read_jsonl(sft_file)).save_to_disk(str(folder))
    assert len(sft_dataset(folder)) == len(PROMPTS)


def test_dpo_trains_logs_rewards_and_uses_soft_labels(tiny_model_dir, pairs_file, tmp_path):
    from training.engine.trainers.dpo import main

    rows = []
    config = DPOConfigCAI(
        **_common(tiny_model_dir, tmp_path / "run", learning_rate=1e-2),
        pairs_path=str(pairs_file),
        label_smoothing_from_soft_labels=True,
    )
    before = _weights(tiny_model_dir, "layers.1.mlp.down_proj.weight")
    result = main(config, callbacks=[lambda step, metrics: rows.append((step, metrics))])
    assert [step for step, _ in rows if "loss" in _] == [1, 2, 3]
    assert all("rewards/margins" in m and "rewards/accuracies" in m for s, m in rows if "loss" in m)
    assert result.final_metrics["label_smoothing"] == pytest.approx(0.2)
    _assert_trained(result, before, Path(result.final_dir), "layers.1.mlp.down_proj.weight")


def test_dpo_with_lora_and_an_explicit_reference(tiny_model_dir, pairs_file, tmp_path):
    from training.engine.trainers.dpo import main

    config = DPOConfigCAI(
        **_common(tiny_model_dir, tmp_path / "run", learning_rate=1e-2),
        pairs_path=str(pairs_file),
        ref_model_path=str(tiny_model_dir),
        use_lora=True,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        loss_type="robust",
        label_smoothing=0.1,
    )
    before = _weights(tiny_model_dir, "layers.0.self_attn.v_proj.weight")
    result = main(config)
    _assert_trained(result, before, Path(result.final_dir), "layers.0.self_attn.v_proj.weight")


def test_reward_model_trains_and_reports_held_out_accuracy(tiny_model_dir, pairs_file, tmp_path):
    from training.engine.trainers.data import read_jsonl
    from training.engine.trainers.reward import evaluate_reward_accuracy, main

    config = RewardConfigCAI(
        **_common(tiny_model_dir, tmp_path / "run", learning_rate=1e-3),
        pairs_path=str(pairs_file),
        eval_fraction=0.34,
    )
    before = _weights(tiny_model_dir, "layers.0.mlp.up_proj.weight")
    result = main(config)
    assert 0.0 <= result.final_metrics["eval_accuracy"] <= 1.0
    _assert_trained(result, before, Path(result.final_dir), "layers.0.mlp.up_proj.weight")
    accuracy = evaluate_reward_accuracy(result.final_dir, read_jsonl(pairs_file))
    assert accuracy in {i / len(PROMPTS) for i in range(len(PROMPTS) + 1)}


def test_metrics_callback_hands_every_log_to_the_sink(tiny_model_dir, pairs_file, tmp_path):
    from training.engine.trainers.callbacks import MetricsCallback
    from training.engine.trainers.dpo import main

    seen = []
    config = DPOConfigCAI(
        **_common(tiny_model_dir, tmp_path / "run", learning_rate=1e-3), pairs_path=str(pairs_file)
    )
    main(config, callbacks=[MetricsCallback(lambda step, m: seen.append((step, m)))])
    logged = [(step, m) for step, m in seen if "loss" in m]
    assert [step for step, _ in logged] == [1, 2, 3]
    assert all("learning_rate" in m and "epoch" in m for _, m in logged)
    assert all(isinstance(v, float) for _, m in seen for v in m.values())


def test_a_stopped_run_keeps_its_checkpoint_and_resumes_to_the_end(
    tiny_model_dir, sft_file, tmp_path
):
    from training.engine.trainers.sft import main

    config = SFTConfigCAI(
        **{**_common(tiny_model_dir, tmp_path / "run"), "max_steps": 4, "save_steps": 2},
        dataset_path=str(sft_file),
    )
    checks = []

    def stop_after_two_steps() -> bool:
        # Asked once after every optimizer step.
        checks.append(1)
        return len(checks) >= 2

    first = main(config, should_stop=stop_after_two_steps)
    assert first.stopped and first.global_step == 2 and first.final_dir is None
    assert (tmp_path / "run" / "checkpoint-2").is_dir()
    assert not (tmp_path / "run" / "final").exists()

    second = main(config)
    assert second.resumed_from == str(tmp_path / "run" / "checkpoint-2")
    assert second.global_step == 4 and not second.stopped
    assert [step for step, m in second.metrics_history if "loss" in m] == [3, 4]


def test_binarise_keeps_confident_pairs_and_orients_them():
    labels = [
        {"prompt": "p1", "response_a": "a1", "response_b": "b1", "p_a": 0.9},
        {"prompt": "p2", "response_a": "a2", "response_b": "b2", "p_a": 0.2},
        {"prompt": "p3", "response_a": "a3", "response_b": "b3", "p_a": 0.55},
        {"prompt": "p4", "response_a": "a4", "response_b": "b4", "p_a": 0.5},
        {"prompt": "p5", "response_a": "a5", "response_b": "b5", "p_a": 0.7},
    ]
    records, mean = binarise(labels, threshold=0.7)
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in records] == [
        ("p1", "a1", "b1"),
        ("p2", "b2", "a2"),
        ("p5", "a5", "b5"),
    ]
    assert [r["p_chosen"] for r in records] == pytest.approx([0.9, 0.8, 0.7])
    assert mean == pytest.approx(0.8)
    everything, _ = binarise(labels, threshold=0.5)
    assert [r["prompt"] for r in everything] == ["p1", "p2", "p3", "p5"]
    assert binarise([], 0.6) == ([], None)
    with pytest.raises(ValueError):
        binarise(labels, threshold=0.4)


def test_configs_validate_and_round_trip_through_json(tmp_path):
    config = DPOConfigCAI(model_path="m", output_dir="o", pairs_path="p", beta=0.2)
    again = DPOConfigCAI.from_dict(json.loads(config.to_json()))
    assert again == config
    with pytest.raises(ConfigError, match="beta"):
        DPOConfigCAI(model_path="m", output_dir="o", pairs_path="p", beta=0)
    with pytest.raises(ConfigError, match="label_smoothing"):
        DPOConfigCAI(model_path="m", output_dir="o", pairs_path="p", label_smoothing=0.5)
    with pytest.raises(ConfigError, match="max_steps"):
        SFTConfigCAI(model_path="m", output_dir="o", dataset_path="d", max_steps=0)
    with pytest.raises(ConfigError, match="unknown field"):
        SFTConfigCAI.from_dict({"model_path": "m", "output_dir": "o", "dataset_path": "d", "lr": 1})
    with pytest.raises(ConfigError, match="missing"):
        RewardConfigCAI.from_dict({"model_path": "m", "output_dir": "o"})


@pytest.mark.parametrize("name", ["sft-demo.yaml", "dpo-demo.yaml", "reward-demo.yaml"])
def test_the_shipped_recipes_load(name):
    config = load_recipe(RECIPES / name)
    assert config.max_steps >= 1 and config.model_path


def test_the_cli_runs_a_recipe(tiny_model_dir, pairs_file, tmp_path):
    from training.engine.trainers.__main__ import main

    recipe = tmp_path / "run.json"
    recipe.write_text(
        json.dumps(
            {
                **_common(tiny_model_dir, tmp_path / "run"),
                "max_steps": 1,
                "pairs_path": str(pairs_file),
            }
        )
    )
    summary = tmp_path / "summary.json"
    assert main(["dpo", "--config", str(recipe), "--summary", str(summary)]) == 0
    printed = json.loads(summary.read_text())
    assert printed["global_step"] == 1 and printed["final_dir"].endswith("final")
