"""Crash safety of a sharded labelling run: two real workers share its shards, one is
killed with SIGKILL mid-shard, the reaper re-queues what it held, and the run ends
with exactly one comparison and one AI label per prompt and tallies equal to a recount."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelling.models import AILabel, AILabelTally, Comparison
from labelling.services import labelset_refresh_tallies
from tests.factories import published_demo_version
from tests.training.worker_process import Worker, purge_queues, wait_for
from training import services, tasks
from training.models import Run, RunShard, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

N_PROMPTS = 12


def _tallies(label_set) -> list[tuple]:
    return sorted(
        AILabelTally.objects.filter(label_set=label_set).values_list(
            "judge",
            "principle_key",
            "category",
            "verdict_ab",
            "verdict_ba",
            "n",
            "n_p_ab",
            "n_p_ba",
        ),
        key=repr,
    )


def test_two_workers_one_killed_end_with_exact_counts_and_no_duplicates(
    team, author, tiny_model_dir: Path, tmp_path
) -> None:
    version = published_demo_version(team, author)
    prompts = "\n".join(f"How do I open lock number {i}?" for i in range(N_PROMPTS)).encode()
    prompt_set = services.promptset_import(
        team=team, user=author, name="p", data=prompts, filename="p.txt", held_out_fraction=0.0
    )
    policy = services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    judge = services.model_register(
        team=team, user=author, name="tiny-judge", path=str(tiny_model_dir)
    )
    purge_queues()
    run = services.run_start(
        kind="labelling",
        team=team,
        user=author,
        inputs={
            "prompt_set": prompt_set,
            "prompt_selection": "all",
            "policy": policy,
            "judge": judge,
            "version": version,
        },
        # One prompt per batch, so a shard has a middle to be killed in.
        config={"seed": 3, "temperature": 1.0, "max_new_tokens": 6, "batch_size": 1},
        shard_size=3,
    )
    assert run.shards.count() == 4
    label_set = run.output_label_set

    first, second = Worker(tmp_path, "first"), Worker(tmp_path, "second")
    try:

        def first_is_mid_shard() -> bool:
            shard = RunShard.objects.filter(run=run, worker=first.name).order_by("-pk").first()
            return shard is not None and shard.status == RunStatus.RUNNING and shard.done_units >= 2

        wait_for(first_is_mid_shard, timeout=300, worker=first, poll=0.05)
        first.kill()
        killed = RunShard.objects.get(run=run, worker=first.name, status=RunStatus.RUNNING)
        assert killed.done_units < killed.total_units

        def finished() -> bool:
            # What beat does every minute, sooner: re-queue shards whose worker went quiet.
            tasks.reap_stale_runs(stale_seconds=5)
            return Run.objects.get(pk=run.pk).is_finished

        wait_for(finished, timeout=600, worker=second, poll=1.0)
    finally:
        first.kill()
        second.stop()
    run.refresh_from_db()
    killed.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, second.log())
    assert (
        killed.lost >= 1 and killed.worker == second.name and killed.status == RunStatus.SUCCEEDED
    )
    exts = list(
        Comparison.objects.filter(label_set=label_set).values_list("external_id", flat=True)
    )
    assert len(exts) == len(set(exts)) == N_PROMPTS
    assert sorted(exts) == sorted(f"run{run.pk}-p{i}" for i in range(N_PROMPTS))
    labels = list(AILabel.objects.filter(label_set=label_set).values_list("comparison_id", "judge"))
    assert len(labels) == len(set(labels)) == N_PROMPTS
    assert {j for _, j in labels} == {"tiny-judge"}
    label_set.refresh_from_db()
    assert label_set.comparison_count == N_PROMPTS and label_set.ai_label_count == N_PROMPTS
    kept = _tallies(label_set)
    labelset_refresh_tallies(label_set=label_set)
    assert kept == _tallies(label_set)
    assert run.done_units == run.total_units == 2 * N_PROMPTS
    assert run.examples_done == N_PROMPTS
