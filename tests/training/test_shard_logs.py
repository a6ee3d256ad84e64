"""Each shard keeps its own log lines (training.shards.ShardLog): what its worker logged
while running it — the claim, stages, batches saved, a take-over, the failure with its
error, the finish — the newest SHARD_LOG_LINES on the shard row, read on the run's log
page by members only. Shards run here as a worker runs them (``run_start --inline``,
``shard_execute``); the models are the tiny random Llama or the fake backend."""

from __future__ import annotations

import io
import logging
import os
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.training import kind_fixtures, run_fixtures
from tests.training.run_fixtures import FakeBackend, cr_start, small_config
from training import services, shards
from training.models import SHARD_LOG_LINES, Run, RunShard, RunStatus

version = kind_fixtures.version
prompt_set = kind_fixtures.prompt_set
tiny = kind_fixtures.tiny
artifacts = kind_fixtures.artifacts
fake_llm = run_fixtures.fake_llm
fake_model_dir = run_fixtures.fake_model_dir

pytestmark = pytest.mark.django_db


def messages(shard: RunShard) -> list[str]:
    shard.refresh_from_db()
    return [line["message"] for line in shard.log_lines]


@pytest.fixture
def fake(team, author, fake_model_dir, fake_llm):
    return services.model_register(team=team, user=author, name="fake", path=str(fake_model_dir))


def cr_run(team, author, version, model, n: int, **config) -> Run:
    """A one-shard critique–revision run over ``n`` prompts of its own, not started."""
    prompts = services.promptset_import(
        team=team,
        user=author,
        name=f"{n} doors",
        data="\n".join(f"How do I open door {i}?" for i in range(n)).encode(),
        filename="p.txt",
        held_out_fraction=0.0,
    )
    return cr_start(
        team=team,
        user=author,
        version=version,
        prompt_set=prompts,
        model=model,
        config=small_config(**config),
        prompt_selection="all",
        shard_size=n,
        enqueue=False,
    )


def test_an_inline_labelling_run_leaves_lines_naming_its_worker_and_every_batch(
    team, author, viewer, version, prompt_set, tiny, artifacts, client_for
) -> None:
    call_command(
        "run_start",
        "labelling",
        "--team",
        team.slug,
        "--version",
        f"{version.constitution.name}@{version.number}",
        "--prompt-set",
        "locks",
        "--policy",
        "tiny",
        "--judge",
        "tiny",
        "--set",
        "seed=5",
        "--set",
        "max_new_tokens=6",
        "--set",
        "batch_size=2",
        "--shard-size",
        "3",
        "--inline",
        stdout=io.StringIO(),
    )
    run = Run.objects.latest("pk")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.shards.count() == 2  # the 6 train prompts, 3 a shard
    for shard in run.shards.order_by("index"):
        said = messages(shard)
        assert {(line["worker"], line["pid"], line["attempt"]) for line in shard.log_lines} == {
            ("inline", os.getpid(), 1)
        }
        assert said[0].startswith(f"shard {shard.index} of run {run.pk} (AI preference labelling")
        assert "claimed by inline" in said[0] and "attempt 1" in said[0]
        assert said.index("stage sampling") < said.index("stage judging")
        # 3 prompts in batches of 2, each prompt a unit sampled and a unit judged.
        assert [m for m in said if m.startswith("batch saved")] == [
            f"batch saved: {n} / 6 steps (a pair sampled or judged) done" for n in (2, 3, 5, 6)
        ]
        assert said[-1].startswith(f"shard {shard.index} finished after")
        assert not any(line["level"] == "ERROR" for line in shard.log_lines)

    viewer_client = client_for(viewer)
    # Labelling is counted in labels on the runs list and the run page alike.
    listing = viewer_client.get(reverse("run_list", args=[team.slug])).content.decode()
    assert "6 / 6 labels" in listing
    page = viewer_client.get(reverse("run_detail", args=[team.slug, run.pk])).content.decode()
    assert '<span id="run-count">6 / 6 labels</span>' in page
    assert "12 / 12 steps (a pair sampled or judged)" in page
    logs_url = reverse("run_logs", args=[team.slug, run.pk])
    assert f'href="{logs_url}"' in page and f'href="{logs_url}?shard=1"' in page

    body = viewer_client.get(logs_url).content.decode()
    assert f"shard 0 of run {run.pk}" in body and f"shard 1 of run {run.pk}" in body
    assert body.count("batch saved") == 8
    one = viewer_client.get(logs_url, {"shard": 1}).content.decode()
    assert f"shard 1 of run {run.pk}" in one and f"shard 0 of run {run.pk}" not in one
    assert "The run has no shard 7." in viewer_client.get(logs_url, {"shard": 7}).content.decode()


def test_a_shard_keeps_only_its_newest_lines(team, author, version, fake) -> None:
    # 70 prompts, one round, batches of 1: 210 batches saved, more lines than are kept.
    run = cr_run(team, author, version, fake, 70, rounds=1, batch_size=1)
    shard = run.shards.get()
    assert shards.shard_execute(shard.pk, worker="test") == RunStatus.SUCCEEDED
    said = messages(shard)
    assert len(said) == SHARD_LOG_LINES == 200
    assert not any("claimed by" in m for m in said)  # the oldest lines made room
    assert said[-2] == "batch saved: 210 / 210 generations done"
    assert said[-1].startswith("shard 0 finished after")
    run.refresh_from_db()
    assert run.examples_done == run.examples_total == 70


def test_a_failed_shard_keeps_its_error_in_its_lines(
    team, author, viewer, outsider, version, fake, client_for, monkeypatch
) -> None:
    run = cr_run(team, author, version, fake, 8, rounds=1, batch_size=4)
    real_generate = FakeBackend.generate
    calls = []
    huge = "CUDA out of memory (simulated) " + "x" * 10_000

    def second_batch_fails(self, requests, params):
        calls.append(len(requests))
        if len(calls) == 2:
            raise RuntimeError(huge)
        return real_generate(self, requests, params)

    monkeypatch.setattr(FakeBackend, "generate", second_batch_fails)
    shard = run.shards.get()
    assert shards.shard_execute(shard.pk, worker="gpu-1") == RunStatus.FAILED
    said = messages(shard)
    assert "claimed by gpu-1" in said[0]
    assert "batch saved: 4 / 24 generations done" in said
    error = shard.log_lines[-1]
    assert error["level"] == "ERROR" and error["worker"] == "gpu-1"
    assert error["message"].startswith(
        f"shard 0 of run {run.pk} failed: RuntimeError: CUDA out of memory (simulated)"
    )
    # A traceback of 10,000 characters keeps its head and its tail.
    assert "characters left out" in error["message"] and len(error["message"]) < 2100

    logs_url = reverse("run_logs", args=[team.slug, run.pk])
    page = client_for(viewer).get(reverse("run_detail", args=[team.slug, run.pk]))
    assert 'id="run-logs-link"' in page.content.decode()
    assert f'href="{logs_url}"' in page.content.decode()
    body = client_for(viewer).get(logs_url).content.decode()
    assert "CUDA out of memory (simulated)" in body and "ERROR" in body
    assert client_for(outsider).get(logs_url).status_code == 404
    # htmx gets the lines alone, and a run that is over stops its polling.
    htmx = client_for(viewer).get(logs_url, headers={"HX-Request": "true"})
    assert htmx.status_code == 286
    assert htmx.content.decode().lstrip().startswith('<div id="log-lines"')


def test_a_shard_taken_from_a_silent_worker_says_so_and_keeps_the_earlier_lines(
    team, author, version, fake
) -> None:
    run = cr_run(team, author, version, fake, 4, rounds=1, batch_size=4)
    shard = run.shards.get()
    assert shards.shard_claim(shard.pk, "dead-worker") == 1
    RunShard.objects.filter(pk=shard.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert shards.shards_requeue_stale(stale_seconds=60) == [shard.pk]
    said = messages(shard)
    assert said[-1].startswith("no heartbeat from dead-worker since")
    assert said[-1].endswith("taken away and queued for another worker")
    assert shard.log_lines[-1]["level"] == "WARNING"
    assert shards.shard_execute(shard.pk, worker="second") == RunStatus.SUCCEEDED
    said = messages(shard)
    assert said[0].startswith("no heartbeat from dead-worker")
    assert "claimed by second" in said[1] and "attempt 2, after its worker went silent" in said[1]
    assert said[-1].startswith("shard 0 finished")


def test_the_handler_takes_the_shard_threads_lines_at_info_and_restores_levels() -> None:
    quiet = logging.getLogger("labelling")
    before = quiet.level
    quiet.setLevel(logging.WARNING)  # a process that logs less than INFO
    log = shards.ShardLog([], worker="w", attempt=3)
    log.attach()
    try:
        logging.getLogger("labelling.services").info("written by the shard")
        other = threading.Thread(
            target=lambda: logging.getLogger("training.x").warning("another thread")
        )
        other.start()
        other.join()
        logging.getLogger("django").warning("not a shard logger")
    finally:
        log.detach()
        level_after = quiet.level
        quiet.setLevel(before)
    assert level_after == logging.WARNING
    assert [(line["message"], line["logger"], line["attempt"]) for line in log.lines] == [
        ("written by the shard", "labelling.services", 3)
    ]
    assert log.pending() == {"log_lines": list(log.lines)} and log.pending() == {}
