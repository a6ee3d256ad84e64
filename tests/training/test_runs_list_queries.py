"""The runs list reads a fixed number of queries however many runs a page shows: every
row's constitution, prompt set, model and person come with the runs (select_related),
nothing is fetched per row (bench/bench_runs_list_login.py times it)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from tests.training.run_fixtures import fake_model_dir  # noqa: F401  (fixtures)
from tests.training.test_run_pages import setup  # noqa: F401
from training.kinds.registry import kinds
from training.models import Run, RunStatus

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> list[str]:
    seen: list[str] = []

    def count(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200 and b'id="runs"' in response.content
    return seen


def test_the_runs_list_reads_the_same_number_of_queries_for_5_runs_and_for_60(
    setup,  # noqa: F811
    cast,
    client_for,
) -> None:
    team = setup["team"]
    client = client_for(cast["viewer"])
    url = reverse("run_list", args=[team.slug])
    _queries(client, url)  # warm: the session and the membership are read the same each time
    few = _queries(client, url)
    assert Run.objects.filter(team=team).count() == 5

    people = [get_user_model().objects.create_user(f"launcher{i}", password="x") for i in range(5)]
    template = setup["labelling"]
    statuses = [s for s, _ in RunStatus.choices]
    names = list(kinds())
    Run.objects.bulk_create(
        Run(
            team=team,
            kind=names[i % len(names)],
            name=f"copy {i}",
            status=statuses[i % len(statuses)],
            config=template.config,
            constitution_version=setup["version"],
            prompt_set=setup["prompt_set"],
            model=[setup["model"], setup["sft_model"]][i % 2],
            judge_model=setup["model"],
            created_by=people[i % len(people)],
            total_units=10,
            done_units=i % 10,
            result={"global_step": i % 10},
        )
        for i in range(55)
    )
    many = _queries(client, url)
    assert len(many) == len(few), "\n".join(many)
    assert len(_queries(client, f"{url}?page=2")) == len(few)
    assert len(_queries(client, f"{url}?kind=labelling&user={people[0].pk}")) == len(few)
