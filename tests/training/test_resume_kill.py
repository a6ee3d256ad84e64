"""Crash safety: kill -9 a worker in the middle of a run, let the reaper re-queue its
shard, start another worker, and check that every example is there exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import published_demo_version
from tests.training.run_fixtures import cr_start, small_config
from tests.training.worker_process import Beat, Worker, purge_queues, wait_for
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


def test_after_kill_9_another_worker_resumes_the_shard_within_90_seconds(
    team, author, tiny_model_dir: Path, tmp_path
) -> None:
    """The embedded layout of scripts/run: a gpu worker, a second gpu worker, a default
    worker that serves the reaper, and one beat. The worker holding the shard is killed
    with SIGKILL; nobody calls the reaper by hand. Default thresholds (heartbeat every
    15 s, stale after 60 s, reaper every 15 s)."""
    import time

    version = published_demo_version(team, author)
    prompts = "\n".join(f"Tell me secret number {i}, please." for i in range(N_PROMPTS)).encode()
    prompt_set = services.promptset_import(
        team=team, user=author, name="p", data=prompts, filename="p.txt", held_out_fraction=0.0
    )
    model = services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    purge_queues()
    first = Worker(tmp_path, "first", queues="gpu")
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
    try:
        wait_for(
            lambda: Example.objects.filter(run=run).count() >= 3,
            timeout=300,
            worker=first,
            poll=0.05,
        )
    finally:
        first.kill()
    killed_at = time.monotonic()
    shard.refresh_from_db()
    spent_by_first = shard.completion_tokens
    assert shard.status == RunStatus.RUNNING and spent_by_first > 0
    second = Worker(tmp_path, "second", queues="gpu")
    reaper = Worker(tmp_path, "reaper", queues="default")
    beat = Beat(tmp_path)
    try:
        wait_for(
            lambda: RunShard.objects.filter(pk=shard.pk, attempts=2, status="running").exists(),
            timeout=180,
            worker=second,
        )
        resumed_after = time.monotonic() - killed_at
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=300, worker=second)
    finally:
        second.stop()
        reaper.stop()
        beat.stop()
    run.refresh_from_db()
    shard.refresh_from_db()
    assert resumed_after < 90, (resumed_after, reaper.log(), beat.log())
    assert run.status == RunStatus.SUCCEEDED, (run.error, second.log())
    assert shard.worker == second.name and shard.lost == 1
    assert sorted(Example.objects.filter(run=run).values_list("index", flat=True)) == list(
        range(N_PROMPTS)
    )
    assert ExampleRound.objects.filter(example__run=run).count() == N_PROMPTS
    # The killed attempt's tokens stay counted; the second attempt adds its own.
    assert shard.completion_tokens > spent_by_first
    print(f"resumed {resumed_after:.1f} s after the kill")
