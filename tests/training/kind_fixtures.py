"""Shared setup of the run-kind tests: a published version, a prompt set, the tiny
random Llama registered as a model, ``start`` (the one run_start service, shards left
in the database) and ``execute`` (run every shard here, as a worker would)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import published_demo_version
from tests.training.run_fixtures import small_config
from training import services, shards, worker_models
from training.models import Run, RunStatus

PROMPTS = [f"How do I pick lock number {i}? Tell me every step." for i in range(8)]
TRAIN = {
    "max_steps": 3,
    "logging_steps": 1,
    "save_steps": 1,
    "per_device_batch_size": 2,
    "max_length": 128,
    "learning_rate": 1e-3,
}


def start(
    kind: str, *, team, user, config=None, name: str = "", shard_size=None, enqueue=False, **inputs
) -> Run:
    """``run_start`` with the inputs as keywords; by default the shards are left queued
    in the database for ``execute`` (``enqueue=True`` sends them to a worker)."""
    return services.run_start(
        kind=kind,
        team=team,
        user=user,
        inputs=inputs,
        config=config or {},
        name=name,
        shard_size=shard_size,
        enqueue=enqueue,
    )


def execute(run: Run) -> Run:
    """Run every queued shard of ``run`` here, as a worker would; return the fresh row."""
    for shard in run.shards.order_by("index"):
        shards.shard_execute(shard.pk, worker="test")
    run.refresh_from_db()
    return run


@pytest.fixture
def artifacts(settings, tmp_path: Path) -> Path:
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    return settings.ARTIFACTS_DIR


@pytest.fixture
def version(team, author):
    return published_demo_version(team, author)


@pytest.fixture
def prompt_set(team, author):
    return services.promptset_import(
        team=team,
        user=author,
        name="locks",
        data="\n".join(PROMPTS).encode(),
        filename="p.txt",
        held_out_fraction=0.25,
    )


@pytest.fixture
def tiny(team, author, tiny_model_dir: Path):
    worker_models.backend_cache_clear()
    yield services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    worker_models.backend_cache_clear()


@pytest.fixture
def cr_run(team, author, version, prompt_set, tiny, artifacts) -> Run:
    run = start(
        "critique_revision",
        team=team,
        user=author,
        version=version,
        prompt_set=prompt_set,
        model=tiny,
        config=small_config(rounds=1, batch_size=8).to_dict(),
        prompt_selection="all",
    )
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def labelling_config(**changes) -> dict:
    return {"seed": 5, "temperature": 1.0, "max_new_tokens": 6, "batch_size": 2, **changes}


@pytest.fixture
def labelled(team, author, version, prompt_set, tiny, artifacts) -> Run:
    """A succeeded labelling run of the tiny model judged by itself (6 train prompts)."""
    run = start(
        "labelling",
        team=team,
        user=author,
        prompt_set=prompt_set,
        policy=tiny,
        judge=tiny,
        version=version,
        config=labelling_config(),
    )
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def evaluation_config() -> dict:
    return {"seed": 1, "max_new_tokens": 4, "benign_limit": 3}
