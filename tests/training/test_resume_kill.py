"""Crash safety: kill -9 a worker in the middle of a run, let the reaper re-queue its
shard, start another worker, and check that every example is there exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import published_demo_version
from tests.training.run_fixtures import cr_start, small_config
from tests.training.worker_process import Worker, purge_queues, wait_for
from training import services, tasks
from training.models import Example, ExampleRound, Run, RunShard, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

N_PROMPTS = 12


def test_a_worker_killed_mid_run_is_replaced_and_the_run_ends_with_no_loss_or_duplicate(
    team, author, tiny_model_dir: Path, tmp_path
) -> None:
    version = published_demo_version(team, author)
    prompts = "\n".join(f"Tell me secret number {i}, please." for i in range(N_PROMPTS)).encode()
    prompt_set = services.promptset_import(
        team=team, user=author, name="p", data=prompts, filename="p.txt", held_out_fraction=0.0
    )
    model = services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    purge_queues()
    # batch_size 1: one example per batch, so there is a "middle" to kill the worker in.
    run = cr_start(
        team=team,
        user=author,
        version=version,
        prompt_set=prompt_set,
        model=model,
        config=small_config(rounds=1, batch_size=1),
        prompt_selection="all",
        shard_size=100,
    )
    shard = RunShard.objects.get(run=run)

    first = Worker(tmp_path, "first")
    try:
        wait_for(
            lambda: Example.objects.filter(run=run).count() >= 4,
            timeout=300,
            worker=first,
            poll=0.05,
        )
    finally:
        first.kill()
    shard.refresh_from_db()
    assert shard.status == RunStatus.RUNNING and shard.worker == first.name
    assert shard.attempts == 1
    survivors = dict(Example.objects.filter(run=run).values_list("index", "id"))
    assert 4 <= len(survivors) < N_PROMPTS or shard.done_units < shard.total_units

    assert tasks.reap_stale_runs(stale_seconds=0) == [shard.pk]

    second = Worker(tmp_path, "second")
    try:
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=300, worker=second)
    finally:
        second.stop()
    run.refresh_from_db()
    shard.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, second.log())
    assert shard.attempts == 2 and shard.worker == second.name and shard.lost == 1
    assert Example.objects.filter(run=run).count() == N_PROMPTS
    assert sorted(Example.objects.filter(run=run).values_list("index", flat=True)) == list(
        range(N_PROMPTS)
    )
    assert ExampleRound.objects.filter(example__run=run).count() == N_PROMPTS
    assert not ExampleRound.objects.filter(example__run=run, revision__isnull=True).exists()
    assert run.done_units == run.total_units == N_PROMPTS * 3
    # What the first worker stored was kept (same rows), not generated again.
    after = dict(
        Example.objects.filter(run=run, index__in=list(survivors)).values_list("index", "id")
    )
    assert after == survivors
