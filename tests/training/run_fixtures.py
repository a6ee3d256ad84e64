"""Shared helpers for the run tests: a fake inference backend and a small run setup.

The fake backend answers instantly and deterministically, so the tests of the run
machinery (claiming, cancel, reaper, resume, views) do not wait on a model; the
pipeline itself is tested on the tiny random Llama in test_tasks.py and end to end
on the real demo model in test_worker_e2e.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from training.engine.critique_revision import CritiqueRevisionConfig
from training.engine.types import ChatRequest, Completion, ModelSpec, SamplingParams

PROMPTS = [f"How do I pick lock number {i}?" for i in range(10)]


class FakeBackend:
    """Echoes a short, deterministic reply; every third reply is 'truncated'."""

    name = "fake"

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.calls = 0

    def generate(self, requests: Sequence[ChatRequest], params: SamplingParams) -> list[Completion]:
        self.calls += 1
        out = []
        for request in requests:
            last = request.messages[-1]["content"]
            turns = len(request.messages)
            if turns == 1:
                text = f"Sure, here is how: step one for <{last[-12:]}>."
            elif "critique" in last.lower():
                text = "The reply helps someone cause harm; it should refuse."
            else:
                text = (
                    "I can't help with that, but a locksmith can."
                    if turns > 5
                    else "Here is a safer reply."
                )
            n = len(text.split())
            finish = "length" if (turns + len(last)) % 3 == 0 else "stop"
            out.append(
                Completion(
                    text=text, prompt_tokens=turns * 10, completion_tokens=n, finish_reason=finish
                )
            )
        return out

    def score_choices(self, requests, choices):
        return [[1.0 / len(choices)] * len(choices) for _ in requests]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        pass


def cr_start(
    *,
    team,
    user,
    version,
    prompt_set,
    model,
    config: CritiqueRevisionConfig,
    prompt_selection: str = "train",
    shard_size: int | None = None,
    name: str = "",
    enqueue: bool = True,
):
    """A critique-revision run through the one ``run_start`` service."""
    from training.services import run_start

    return run_start(
        kind="critique_revision",
        team=team,
        user=user,
        inputs={
            "version": version,
            "prompt_set": prompt_set,
            "model": model,
            "prompt_selection": prompt_selection,
        },
        config=config.to_dict(),
        shard_size=shard_size,
        name=name,
        enqueue=enqueue,
    )


def small_config(**changes) -> CritiqueRevisionConfig:
    params = SamplingParams(temperature=0.7, top_p=0.95, max_new_tokens=4)
    values = dict(
        rounds=2,
        few_shot=False,
        answer=params,
        critique=params,
        revision=params,
        seed=3,
        batch_size=4,
    )
    values.update(changes)
    return CritiqueRevisionConfig(**values)


@pytest.fixture
def fake_llm(monkeypatch):
    """Every backend the workers load is a FakeBackend; returns the list of loads."""
    from training import worker_models
    from training.engine import backends

    loads: list[FakeBackend] = []

    def load(spec):
        backend = FakeBackend(spec)
        loads.append(backend)
        return backend

    worker_models.backend_cache_clear()
    monkeypatch.setattr(backends, "load_backend", load)
    yield loads
    worker_models.backend_cache_clear()


@pytest.fixture
def fake_model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "fake-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder
