"""Labelling and evaluation split into shards like critique–revision: one shared output
label set, comparisons keyed by prompt index (a redelivered shard adds nothing),
progress the sum of the shards, and within a shard every generation before any
judging — counted through the worker's real model loads (training.worker_models)."""

from __future__ import annotations

import pytest

from labelling.models import AILabel, AILabelTally, Comparison
from labelling.services import labelset_refresh_tallies
from tests.training import kind_fixtures
from tests.training.kind_fixtures import evaluation_config, execute, labelling_config, start
from training import services, shards, worker_models
from training.models import Run, RunShard, RunStatus

artifacts = kind_fixtures.artifacts
version = kind_fixtures.version
prompt_set = kind_fixtures.prompt_set
tiny = kind_fixtures.tiny

pytestmark = pytest.mark.django_db


@pytest.fixture
def judge(team, author, tiny):
    """The same weights under another name: a different model to the worker."""
    return services.model_register(team=team, user=author, name="tiny-judge", path=tiny.path)


def _tallies(label_set) -> list[tuple]:
    return sorted(
        AILabelTally.objects.filter(label_set=label_set).values_list(
            "judge", "principle_key", "category", "verdict_ab", "verdict_ba", "n"
        ),
        key=repr,
    )


def _requeue(run, index: int) -> None:
    """Put one finished shard back in the queue as if the other shards were still running."""
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    RunShard.objects.filter(run=run, index=index).update(status=RunStatus.QUEUED)


def _label(team, author, version, prompt_set, policy, judge, **config):
    return start(
        "labelling",
        team=team,
        user=author,
        prompt_set=prompt_set,
        policy=policy,
        judge=judge,
        version=version,
        config=labelling_config(**config),
        shard_size=2,
    )


def test_a_labelling_run_is_planned_as_shards_that_fill_one_label_set(
    team, author, version, prompt_set, tiny, judge, artifacts
) -> None:
    run = _label(team, author, version, prompt_set, tiny, judge)
    assert list(run.shards.order_by("index").values_list("start", "end", "total_units")) == [
        (0, 2, 4),
        (2, 4, 4),
        (4, 6, 4),
    ]
    assert run.total_units == 12 and run.examples_total == 6
    first = run.shards.get(index=0)
    shards.shard_execute(first.pk, worker="test")
    run.refresh_from_db()
    assert run.done_units == 4 and run.examples_done == 2  # the sum of the shards so far
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    label_set = run.output_label_set
    exts = sorted(
        Comparison.objects.filter(label_set=label_set).values_list("external_id", flat=True)
    )
    indices = sorted(
        Comparison.objects.filter(label_set=label_set).values_list(
            "metadata__prompt_index", flat=True
        )
    )
    assert len(exts) == len(set(exts)) == 6
    assert exts == sorted(f"run{run.pk}-p{i}" for i in indices)
    assert AILabel.objects.filter(label_set=label_set, judge="tiny-judge").count() == 6
    assert run.done_units == run.total_units == 12 and run.examples_done == 6
    label_set.refresh_from_db()
    assert label_set.comparison_count == 6 and label_set.ai_label_count == 6
    assert run.result["labels"] == 6
    # The policy's sampling is counted in tokens (two answers per prompt), per shard and
    # in the run's sum; the judge's log-prob scoring reports none.
    spent = list(run.shards.values_list("prompt_tokens", "completion_tokens"))
    assert all(p > 0 and c > 0 for p, c in spent), spent
    assert (run.prompt_tokens, run.completion_tokens) == tuple(map(sum, zip(*spent, strict=True)))


def test_a_redelivered_labelling_shard_adds_no_comparison_label_or_tally(
    team, author, version, prompt_set, tiny, judge, artifacts
) -> None:
    run = execute(_label(team, author, version, prompt_set, tiny, judge))
    label_set = run.output_label_set
    before_labels = dict(
        AILabel.objects.filter(label_set=label_set).values_list("comparison__external_id", "p_a_ab")
    )
    tallies = _tallies(label_set)
    shard = run.shards.get(index=1)
    # The broker delivers the task again after it succeeded (a lost ack).
    _requeue(run, shard.index)
    assert shards.shard_execute(shard.pk, worker="again") == RunStatus.SUCCEEDED
    assert Comparison.objects.filter(label_set=label_set).count() == 6
    after = dict(
        AILabel.objects.filter(label_set=label_set).values_list("comparison__external_id", "p_a_ab")
    )
    assert after == before_labels
    assert _tallies(label_set) == tallies
    labelset_refresh_tallies(label_set=label_set)
    assert _tallies(label_set) == tallies


def test_a_shard_killed_between_sampling_and_judging_judges_what_it_stored(
    team, author, version, prompt_set, tiny, judge, artifacts
) -> None:
    run = _label(team, author, version, prompt_set, tiny, judge)
    run = execute(run)
    label_set = run.output_label_set
    kept = dict(
        Comparison.objects.filter(label_set=label_set).values_list("external_id", "response_a")
    )
    # As if the worker died after sampling shard 2 but before judging it.
    last = sorted(
        Comparison.objects.filter(label_set=label_set).values_list(
            "metadata__prompt_index", flat=True
        )
    )[-2:]
    AILabel.objects.filter(comparison__metadata__prompt_index__in=last).delete()
    assert AILabel.objects.filter(label_set=label_set).count() == 4
    labelset_refresh_tallies(label_set=label_set)
    _requeue(run, 2)
    shards.shard_execute(run.shards.get(index=2).pk, worker="test")
    assert (
        dict(
            Comparison.objects.filter(label_set=label_set).values_list("external_id", "response_a")
        )
        == kept
    )  # nothing sampled again
    assert AILabel.objects.filter(label_set=label_set).count() == 6


@pytest.mark.parametrize("resident", [1, 2])
def test_each_model_is_loaded_at_most_once_per_shard_generation_before_judging(
    team, author, version, prompt_set, tiny, judge, artifacts, settings, resident
) -> None:
    settings.WORKER_RESIDENT_MODELS = resident
    # One prompt per batch: with the old per-batch alternation this loaded 2 models x 2 batches.
    run = _label(team, author, version, prompt_set, tiny, judge, batch_size=1)
    worker_models.backend_cache_clear()
    loads = worker_models.BACKEND_LOADS["count"]
    per_shard = []
    for shard in run.shards.order_by("index"):
        at = worker_models.BACKEND_LOADS["count"]
        shards.shard_execute(shard.pk, worker="test")
        per_shard.append(worker_models.BACKEND_LOADS["count"] - at)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    if resident == 1:
        # Only one fits: the policy for the sampling, the judge for the judging, once each.
        assert per_shard == [2, 2, 2]
    else:
        # Both fit and stay: one load of each for the whole run on this worker.
        assert per_shard == [2, 0, 0]
    assert worker_models.BACKEND_LOADS["count"] - loads == sum(per_shard)


def test_an_evaluation_run_is_sharded_and_its_shards_combine_exactly(
    team, author, version, prompt_set, tiny, judge, artifacts
) -> None:
    base = services.model_register(team=team, user=author, name="tiny-base", path=tiny.path)
    run = start(
        "evaluation",
        team=team,
        user=author,
        policy=tiny,
        base=base,
        judge=judge,
        version=version,
        prompt_set=prompt_set,
        config=evaluation_config(),
        shard_size=1,
    )
    assert run.shards.count() == 2 and run.total_units == 6
    worker_models.backend_cache_clear()
    at = worker_models.BACKEND_LOADS["count"]
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    # Three models, WORKER_RESIDENT_MODELS=2: each asked for once per shard, never per batch.
    assert worker_models.BACKEND_LOADS["count"] - at <= 6
    r = run.result
    assert r["n_pairs"] == 2 and r["wins"] + r["losses"] + r["ties"] == 2
    assert sorted(r["shards"]) == ["0", "1"] and r["n_benign"] == 3
    assert 0 <= r["ci_low"] <= r["win_rate"] <= r["ci_high"] <= 1
    assert run.done_units == run.total_units
    # Redelivered after success: its entry is replaced, not added.
    shard = run.shards.get(index=1)
    _requeue(run, 1)
    shards.shard_execute(shard.pk, worker="again")
    run.refresh_from_db()
    assert run.result["n_pairs"] == 2 and len(run.result["examples"]) == 2
