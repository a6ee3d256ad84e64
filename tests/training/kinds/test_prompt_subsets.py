"""Runs over a subset of a prompt set: the first N or a seeded random N of the selection
(all, train or held-out split), chosen by one rule (``choose_subset``) for every kind
that takes prompts, recorded in the run's config, its page, its lineage and its
provenance; a labelling run really labels exactly those prompts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labelling.models import Comparison
from tests.training import kind_fixtures
from tests.training.kind_fixtures import PROMPTS, execute, labelling_config, start
from training.engine.prompt_sets import choose_subset
from training.errors import TrainingError
from training.models import Prompt, Run, RunStatus
from training.services.prompt_sets import run_prompt_queryset

pytestmark = pytest.mark.django_db

artifacts = kind_fixtures.artifacts
version = kind_fixtures.version
prompt_set = kind_fixtures.prompt_set
tiny = kind_fixtures.tiny


def test_a_random_subset_is_the_same_for_the_same_seed_and_keeps_the_upload_order() -> None:
    indices = list(range(100))
    a = choose_subset(indices, 10, "random", seed=3)
    assert a == choose_subset(indices, 10, "random", seed=3)
    assert a == sorted(a) and len(set(a)) == 10
    assert a != choose_subset(indices, 10, "random", seed=4)
    assert choose_subset(indices, 10, "first", seed=3) == list(range(10))
    assert choose_subset(indices, None, "random", seed=3) == indices
    assert choose_subset(indices[:5], 10, "random", seed=3) == indices[:5]


def _labelling(team, author, version, prompt_set, tiny, **config) -> Run:
    return start(
        "labelling",
        team=team,
        user=author,
        prompt_set=prompt_set,
        policy=tiny,
        judge=tiny,
        version=version,
        config=labelling_config(**config),
        prompt_selection="all",
    )


def test_a_labelling_run_over_a_random_n_labels_exactly_those_prompts(
    team, author, version, prompt_set, tiny, artifacts, cast, client_for
) -> None:
    run = _labelling(
        team, author, version, prompt_set, tiny, prompt_limit=3, prompt_subset="random"
    )
    assert run.config["prompt_limit"] == 3 and run.config["prompt_subset"] == "random"
    assert run.examples_total == 3 and run.total_units == 6
    all_indices = list(
        Prompt.objects.filter(prompt_set=prompt_set)
        .order_by("index")
        .values_list("index", flat=True)
    )
    chosen = choose_subset(all_indices, 3, "random", seed=run.config["seed"])
    assert [p.index for p in run_prompt_queryset(prompt_set, "all", run.config_object())] == chosen

    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    texts = set(
        Comparison.objects.filter(label_set=run.output_label_set).values_list("prompt", flat=True)
    )
    assert texts == {PROMPTS[i] for i in chosen}

    viewer = client_for(cast["viewer"])
    page = viewer.get(reverse("run_detail", args=[team.slug, run.pk])).content.decode()
    assert "a random 3 (seed 5) of the all prompts, 3 prompts" in page
    lineage = viewer.get(reverse("lineage", args=[team.slug, version.pk])).content.decode()
    assert "over a random 3 (seed 5) of the all prompts of locks" in lineage


def test_the_first_n_of_the_held_out_split_is_what_an_evaluation_judges(
    team, author, version, prompt_set, tiny, artifacts
) -> None:
    run = start(
        "evaluation",
        team=team,
        user=author,
        policy=tiny,
        base=tiny,
        judge=tiny,
        version=version,
        prompt_set=prompt_set,
        config={**kind_fixtures.evaluation_config(), "prompt_limit": 1},
    )
    assert run.examples_total == 1 and run.config["prompt_subset"] == "first"
    held_out = list(run_prompt_queryset(prompt_set, "held_out").values_list("index", flat=True))
    assert [p.index for p in run_prompt_queryset(prompt_set, "held_out", run.config_object())] == (
        held_out[:1]
    )


def test_a_subset_larger_than_the_selection_or_badly_named_is_refused_and_nothing_is_made(
    team, author, version, prompt_set, tiny, artifacts
) -> None:
    with pytest.raises(TrainingError) as too_many:
        _labelling(team, author, version, prompt_set, tiny, prompt_limit=len(PROMPTS) + 1)
    assert too_many.value.field == "prompt_limit" and f"holds only {len(PROMPTS)}" in str(
        too_many.value
    )
    with pytest.raises(TrainingError) as bad:
        _labelling(team, author, version, prompt_set, tiny, prompt_limit=2, prompt_subset="last")
    assert bad.value.field == "config" and "prompt_subset: must be one of first, random" in str(
        bad.value
    )
    assert not Run.objects.filter(kind="labelling").exists()


def test_the_labelling_launch_page_offers_the_subset_and_records_it(
    team, author, version, prompt_set, tiny, artifacts, cast, client_for
) -> None:
    client = client_for(cast["author"])
    url = reverse("run_launch", args=[team.slug, "labelling"])
    page = client.get(url).content.decode()
    assert 'name="labelling-prompt_limit"' in page and 'name="labelling-prompt_subset"' in page
    data = {
        "prompt_set": prompt_set.pk,
        "prompt_selection": "train",
        "policy": tiny.pk,
        "judge": tiny.pk,
        "version": version.pk,
        "k_principles": 1,
        "mode": "logprob",
        "temperature": 1.0,
        "max_new_tokens": 4,
        "batch_size": 2,
        "seed": 2,
        "prompt_limit": 2,
        "prompt_subset": "random",
    }
    response = client.post(url, {f"labelling-{k}": v for k, v in data.items()})
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = Run.objects.get(kind="labelling")
    assert run.config["prompt_limit"] == 2 and run.config["prompt_subset"] == "random"
    assert run.examples_total == 2
