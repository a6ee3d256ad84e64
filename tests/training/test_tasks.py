"""The run/shard tasks called directly (no broker): the machinery on a fake backend,
the pipeline through the database on a tiny random Llama."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.factories import published_demo_version
from tests.training import run_fixtures
from tests.training.run_fixtures import PROMPTS, cr_start, small_config
from training import services, tasks, worker_models
from training import shards as shard_work
from training.engine.critique_revision import CritiqueRevisionConfig
from training.models import Example, ExampleRound, Run, RunShard, RunStatus

# Fixtures shared with the other run tests (pytest finds them by module name).
fake_llm = run_fixtures.fake_llm
fake_model_dir = run_fixtures.fake_model_dir


@pytest.fixture
def version(team, author):
    return published_demo_version(team, author)


@pytest.fixture
def prompt_set(team, author):
    data = "\n".join(PROMPTS).encode()
    return services.promptset_import(
        team=team, user=author, name="locks", data=data, filename="p.txt", held_out_fraction=0.0
    )


@pytest.fixture
def model(team, author, fake_model_dir: Path, fake_llm):
    return services.model_register(team=team, user=author, name="fake", path=str(fake_model_dir))


@pytest.fixture
def tiny_model(team, author, tiny_model_dir: Path):
    worker_models.backend_cache_clear()
    yield services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    worker_models.backend_cache_clear()


@pytest.fixture
def start(team, author, version, prompt_set, request, django_capture_on_commit_callbacks):
    def make(**kwargs) -> tuple[Run, list[int]]:
        values = dict(config=small_config(), shard_size=4)
        values.update(kwargs)
        if "model" not in values:
            values["model"] = request.getfixturevalue("model")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = cr_start(
                team=team,
                user=author,
                version=version,
                prompt_set=prompt_set,
                prompt_selection="all",
                **values,
            )
        return run, callbacks

    return make


def run_all_shards(run: Run) -> None:
    for shard in run.shards.order_by("index"):
        tasks.run_shard.apply(args=[shard.pk]).get()


def test_starting_a_run_queues_one_task_per_shard_after_commit(start) -> None:
    run, callbacks = start()
    shards = list(run.shards.order_by("index"))
    assert [(s.start, s.end) for s in shards] == [(0, 4), (4, 7), (7, 10)]
    assert len(callbacks) == 3
    assert run.status == RunStatus.QUEUED
    assert run.total_units == 10 * 5
    assert CritiqueRevisionConfig.from_dict(run.config) == small_config()


def test_a_run_stores_every_example_and_round_and_succeeds(start) -> None:
    run, _ = start()
    run_all_shards(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.done_units == run.total_units == 50
    assert run.examples_done == 10
    assert Example.objects.filter(run=run).count() == 10
    rounds = ExampleRound.objects.filter(example__run=run)
    assert rounds.count() == 20
    assert not rounds.filter(revision__isnull=True).exists()
    assert set(rounds.values_list("principle__version", flat=True)) == {run.constitution_version_id}
    assert rounds.filter(critique_finish="length").exists()  # truncation is recorded


def test_a_run_on_a_tiny_llama_stores_every_example_and_round(start, tiny_model) -> None:
    run, _ = start(model=tiny_model, config=small_config(rounds=1))
    run_all_shards(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.done_units == run.total_units == 30
    assert ExampleRound.objects.filter(example__run=run, revision__isnull=False).count() == 10
    # The exact published principle rows, from the run's version.
    rounds = ExampleRound.objects.filter(example__run=run)
    assert set(rounds.values_list("principle__version", flat=True)) == {run.constitution_version_id}
    assert run.finished_at and run.gpu_seconds > 0 and run.completion_tokens > 0


def test_the_model_is_loaded_once_per_worker_process(start, fake_llm) -> None:
    run, _ = start()
    run_all_shards(run)
    run2, _ = start(name="again")
    run_all_shards(run2)
    assert len(fake_llm) == 1


def test_a_second_delivery_of_a_shard_does_nothing(start) -> None:
    run, _ = start()
    shard = run.shards.first()
    assert shard_work.shard_execute(shard.pk) == RunStatus.SUCCEEDED
    assert shard_work.shard_execute(shard.pk) == "skipped"
    assert Example.objects.filter(run=run).count() == 4


def test_cancel_stops_between_batches_and_keeps_what_was_done(start, monkeypatch) -> None:
    run, _ = start(shard_size=100)
    real = shard_work.run_refresh_progress

    def progress_then_cancel(run_id, **kw):
        real(run_id, **kw)
        # Once the second batch of answers is stored (progress is also reported when a
        # batch starts, so count what is stored, not the calls).
        run = Run.objects.get(pk=run_id)
        if not run.cancel_requested and Example.objects.filter(run=run).count() >= 8:
            services.run_cancel(run=run)

    monkeypatch.setattr(shard_work, "run_refresh_progress", progress_then_cancel)
    run_all_shards(run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert Example.objects.filter(run=run).count() == 8  # two batches of four
    assert run.done_units == 8


def test_cancelling_a_queued_run_cancels_it_at_once_and_its_tasks_do_nothing(start) -> None:
    run, _ = start()
    services.run_cancel(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    run_all_shards(run)
    assert not Example.objects.filter(run=run).exists()


def test_a_failed_shard_fails_the_run_with_its_error_and_resume_finishes_it(
    start, monkeypatch
) -> None:
    run, _ = start()
    real_for = shard_work.backends_for

    class Broken(Exception):
        pass

    def explode(*specs):
        raise Broken("CUDA out of memory (simulated)")

    monkeypatch.setattr(shard_work, "backends_for", explode)
    shards = list(run.shards.order_by("index"))
    tasks.run_shard.apply(args=[shards[0].pk])
    monkeypatch.setattr(shard_work, "backends_for", real_for)
    for shard in shards[1:]:
        tasks.run_shard.apply(args=[shard.pk])
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "CUDA out of memory (simulated)" in run.error
    done_before = set(Example.objects.filter(run=run).values_list("id", flat=True))
    assert len(done_before) == 6

    with pytest.raises(services.TrainingError):
        services.run_cancel(run=run)
    import django.test

    with django.test.TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        services.run_resume(run=run)
    assert len(callbacks) == 1  # only the failed shard goes back
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.error == ""
    run_all_shards(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert Example.objects.filter(run=run).count() == 10
    assert done_before <= set(Example.objects.filter(run=run).values_list("id", flat=True))


def test_the_reaper_requeues_a_shard_whose_worker_went_quiet(start) -> None:
    run, _ = start()
    shard = run.shards.first()
    attempt = shard_work.shard_claim(shard.pk, "dead-worker")
    assert attempt == 1
    RunShard.objects.filter(pk=shard.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    import django.test

    with django.test.TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        assert tasks.reap_stale_runs(stale_seconds=60) == [shard.pk]
    assert len(callbacks) == 1
    shard.refresh_from_db()
    assert shard.status == RunStatus.QUEUED and shard.lost == 1
    # The old owner wakes up: its fencing token no longer matches, so it writes nothing.
    assert not shard_work.owned(shard.pk, attempt).update(done_units=99)
    assert shard_work.shard_execute(shard.pk) == RunStatus.SUCCEEDED
    shard.refresh_from_db()
    assert shard.attempts == 2 and shard.done_units == shard.total_units


def test_a_fresh_heartbeat_is_not_reaped(start) -> None:
    run, _ = start()
    shard = run.shards.first()
    shard_work.shard_claim(shard.pk, "busy-worker")
    assert tasks.reap_stale_runs(stale_seconds=60) == []


def test_a_shard_that_keeps_killing_workers_fails_instead_of_looping(start) -> None:
    run, _ = start()
    shard = run.shards.first()
    for _ in range(shard_work.MAX_SHARD_ATTEMPTS):
        shard_work.shard_claim(shard.pk, "w")
        RunShard.objects.filter(pk=shard.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        tasks.reap_stale_runs(stale_seconds=60)
    shard.refresh_from_db()
    assert shard.status == RunStatus.FAILED
    assert "stopped answering" in shard.error


def test_the_periodic_reaper_task_is_registered_under_the_beat_name() -> None:
    from django.conf import settings

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks.reap_stale_runs.name in names
    assert tasks.run_shard.queue == "gpu" and tasks.reap_stale_runs.queue == "default"


def test_the_db_store_gives_the_same_results_as_the_engine_in_memory(start, tiny_model) -> None:
    """Same config, same prompts, same tiny Llama: the database run equals an
    InMemoryResultStore run, shard by shard."""
    from constitutions.selectors import version_content, version_with_content
    from training.engine.critique_revision import InMemoryResultStore, run_critique_revision

    config = small_config(rounds=1)
    run, _ = start(model=tiny_model, config=config, shard_size=5)
    run_all_shards(run)
    assert Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED
    content = version_content(version_with_content(run.constitution_version_id))
    store = InMemoryResultStore()
    backend = worker_models.backend_for(tiny_model.to_spec())
    for shard in run.shards.order_by("index"):
        run_critique_revision(
            prompts=PROMPTS,
            content=content,
            backend=backend,
            config=config,
            store=store,
            indices=shard.indices,
        )
    for example in Example.objects.filter(run=run).prefetch_related("rounds"):
        expected = store.states[example.index]
        assert example.initial_answer == expected.initial_answer
        assert [(r.principle_key, r.critique, r.revision) for r in example.rounds.all()] == [
            (r.principle_key, r.critique, r.revision) for r in expected.rounds
        ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("beat_every", [0.2, 0])
def test_a_long_batch_keeps_its_shard_alive_through_the_heartbeat_thread(
    team, author, fake_model_dir, fake_llm, settings, monkeypatch, beat_every
) -> None:
    """A batch that takes longer than the stale threshold: with the heartbeat thread the
    reaper leaves the shard alone; without it (interval 0) the same batch is reaped."""
    import time as clock

    from tests.training.run_fixtures import FakeBackend

    settings.RUN_HEARTBEAT_SECONDS = beat_every
    version = published_demo_version(team, author)
    prompt_set = services.promptset_import(
        team=team,
        user=author,
        name="slow",
        data=b"one\ntwo\n",
        filename="p.txt",
        held_out_fraction=0.0,
    )
    model = services.model_register(team=team, user=author, name="fake", path=str(fake_model_dir))
    run = cr_start(
        team=team,
        user=author,
        version=version,
        prompt_set=prompt_set,
        model=model,
        config=small_config(rounds=1, batch_size=2),
        prompt_selection="all",
        enqueue=False,
    )
    reaped: list[list[int]] = []
    real_generate = FakeBackend.generate

    def slow_generate(self, requests, params):
        if not reaped:
            clock.sleep(1.5)  # longer than the 1 s stale threshold below
            reaped.append(shard_work.shards_requeue_stale(stale_seconds=1))
        return real_generate(self, requests, params)

    monkeypatch.setattr(FakeBackend, "generate", slow_generate)
    shard = run.shards.get()
    status = shard_work.shard_execute(shard.pk, worker="slow")
    if beat_every:
        assert reaped == [[]] and status == RunStatus.SUCCEEDED
    else:
        assert reaped == [[shard.pk]] and status == "lost"
