"""Multi-process training: a DPO run under ``accelerate launch`` with 2 gloo ranks on CPU.

Real processes (torchrun through accelerate), the tiny random Llama, and the worker's
own path: ``training.engine.trainers.run`` with a metrics sink and a stop flag, the
way ``training.kinds.trainer.train`` calls it from a shard.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from tests.training import kind_fixtures
from tests.training.test_trainers import PROMPTS, _messages
from training.engine.trainers import ConfigError, DPOConfigCAI, run
from training.engine.trainers.data import write_jsonl
from training.models import ModelEntry, RunMetric, RunStatus

pytestmark = pytest.mark.slow


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    rows = [
        {
            "prompt": _messages(p),
            "chosen": f"A careful and kind answer to: {p}",
            "rejected": "No. Figure it out yourself.",
        }
        for p in PROMPTS
    ]
    return write_jsonl(rows, tmp_path / "pairs.jsonl")


def _weight(folder: Path):
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    return next(v for k, v in tensors.items() if k.endswith("layers.0.self_attn.q_proj.weight"))


def test_a_two_process_dpo_run_trains_checkpoints_and_resumes(tiny_model_dir, pairs_file, tmp_path):
    out = tmp_path / "run"
    config = DPOConfigCAI(
        model_path=str(tiny_model_dir),
        output_dir=str(out),
        pairs_path=str(pairs_file),
        max_steps=8,
        per_device_batch_size=1,
        logging_steps=1,
        save_steps=100,
        max_length=96,
        learning_rate=1e-3,
        num_processes=2,
    )
    first_steps: list[int] = []

    def first_sink(step: int, metrics: dict[str, float]) -> None:
        if "loss" in metrics:
            first_steps.append(step)

    # The worker polls its stop flag about once a second, so the ranks may get a step or
    # two further than step 2 before they agree to stop; where they stop is checked.
    first = run(config, callbacks=[first_sink], should_stop=lambda: len(first_steps) >= 2)
    assert first.stopped and first.final_dir is None
    stop = first.global_step
    assert 2 <= stop < 8
    assert (out / f"checkpoint-{stop}").is_dir()
    assert first.final_metrics["world_size"] == 2.0
    # Rank 0 alone reports: every step once, none twice (two ranks would double them).
    assert first_steps == list(range(1, stop + 1))

    second_steps: list[int] = []
    second = run(config, callbacks=[lambda s, m: "loss" in m and second_steps.append(s)])
    assert second.resumed_from == str(out / f"checkpoint-{stop}")
    assert not second.stopped and second.global_step == 8
    assert second_steps == list(range(stop + 1, 9))
    assert Counter(first_steps + second_steps) == Counter(range(1, 9))
    losses = [m["loss"] for _, m in first.metrics_history + second.metrics_history if "loss" in m]
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)
    final = Path(second.final_dir)
    assert not bool((_weight(Path(tiny_model_dir)) - _weight(final)).abs().max() == 0)


def test_num_processes_is_validated_naming_the_field(tiny_model_dir, pairs_file, tmp_path):
    for bad in (0, -1, 65, 1.5, True):
        with pytest.raises(ConfigError, match="num_processes"):
            DPOConfigCAI(
                model_path=str(tiny_model_dir),
                output_dir=str(tmp_path),
                pairs_path=str(pairs_file),
                num_processes=bad,
            )


# -- through the worker's path: run_start, the shard task, the run's metric rows ---------

artifacts = kind_fixtures.artifacts
version = kind_fixtures.version
prompt_set = kind_fixtures.prompt_set
tiny = kind_fixtures.tiny
labelled = kind_fixtures.labelled


@pytest.mark.django_db
def test_a_dpo_run_with_two_processes_trains_on_the_worker_and_registers(
    team, author, labelled, tiny
):
    run = kind_fixtures.start(
        "dpo",
        team=team,
        user=author,
        label_set=labelled.output_label_set,
        model=tiny,
        config={
            "train": {**kind_fixtures.TRAIN, "num_processes": 2},
            "override_reason": "two-process smoke test",
            "confirm_inconsistent": True,  # the tiny judge's labels are all inconsistent
        },
    )
    run = kind_fixtures.execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    steps = sorted(RunMetric.objects.filter(run=run, name="loss").values_list("step", flat=True))
    assert steps == [1, 2, 3]
    assert run.result["global_step"] == 3
    assert ModelEntry.objects.filter(source_run=run).exists()
    # The ranks' own log sits in the run folder.
    assert (Path(run.result["final_dir"]).parent / "launch" / "launch.log").is_file()
