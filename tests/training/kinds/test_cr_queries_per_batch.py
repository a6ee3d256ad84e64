"""Critique–revision on the tiny random Llama: the database queries a shard makes per
batch do not grow with the run (its prompts, its stored examples) or with the batch's
place in it. What the shard reads once (its prompts, the constitution) is read once."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from tests.training import kind_fixtures
from tests.training.kind_fixtures import start
from tests.training.run_fixtures import small_config
from training import services, shards
from training.kinds import critique_revision
from training.models import ExampleRound

version = kind_fixtures.version
tiny = kind_fixtures.tiny

pytestmark = pytest.mark.django_db


def prompts(team, user, n: int, name: str):
    return services.promptset_import(
        team=team,
        user=user,
        name=name,
        data="\n".join(
            f"How do I open door {i} of {n} without its key?" for i in range(n)
        ).encode(),
        filename="p.txt",
        held_out_fraction=0.0,
    )


def queries_per_batch(run, monkeypatch) -> tuple[list[int], int]:
    """Run the one shard here; return the queries between one saved batch and the next
    (engine, store and progress together) and the queries before the first batch."""
    count = [0]
    marks: list[int] = []

    def counter(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    save = critique_revision.DbResultStore.save_batch

    def marked(self, stage, round, results):
        marks.append(count[0])
        return save(self, stage, round, results)

    monkeypatch.setattr(critique_revision.DbResultStore, "save_batch", marked)
    (shard,) = run.shards.all()
    with connection.execute_wrapper(counter):
        shards.shard_execute(shard.pk, worker="test")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return [b - a for a, b in zip(marks, marks[1:], strict=False)], marks[0]


def test_queries_per_batch_stay_the_same_from_8_to_48_prompts(
    team, author, version, tiny, monkeypatch
):
    config = small_config(rounds=1, batch_size=4).to_dict()
    per_batch = {}
    setup = {}
    for n in (8, 48):
        run = start(
            "critique_revision",
            team=team,
            user=author,
            version=version,
            prompt_set=prompts(team, author, n, f"doors {n}"),
            prompt_selection="all",
            model=tiny,
            config=config,
            shard_size=n,
            name=f"{n} prompts",
        )
        per_batch[n], setup[n] = queries_per_batch(run, monkeypatch)
        assert len(per_batch[n]) == 3 * n // 4 - 1  # 3 stages, batches of 4
        assert ExampleRound.objects.filter(example__run=run, revision__isnull=False).count() == n
    # Between two batches of the same stage the count is one constant, whatever the size.
    small, big = Counter(per_batch[8]), Counter(per_batch[48])
    assert set(big) == set(small), (per_batch[8], per_batch[48])
    assert len(set(per_batch[48])) <= 3, per_batch[48]  # at most one value per stage change
    assert setup[48] == setup[8]  # what the shard reads before its first batch
