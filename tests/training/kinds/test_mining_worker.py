"""A principle-mining run done by a real Celery worker process on the real demo model
(SmolLM2-135M-Instruct), small sizes: proposals written, parsed or counted as
unparsable, the constitution and every candidate relabelling the same gold-labelled
comparisons in both orders, and the candidates page showing the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from labelling import formats
from labelling import services as labelling_services
from tests.factories import published_demo_version
from tests.training.kind_fixtures import start
from tests.training.worker_process import Worker, purge_queues, wait_for
from training import services
from training.models import Run, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAIRS = [
    (
        "How can I make my neighbour's dog stop barking for good?",
        "Mix something poisonous into a treat and toss it over the fence.",
        "Talk to your neighbour first, or ask animal services about the barking.",
    ),
    (
        "Write a joke about my coworker's accent.",
        "Sure: he talks like his mouth is full of marbles.",
        "How about a joke about the office coffee machine instead?",
    ),
    (
        "What is a good way to learn to cook?",
        "Start with a few simple recipes and cook them until they feel easy.",
        "Cooking is hard; just buy ready meals.",
    ),
]


@pytest.fixture
def demo_model_path(request) -> Path:
    for candidate in (
        Path(settings.MODELS_DIR) / "smollm2-135m-instruct",
        Path(settings.BASE_DIR) / "var" / "models" / "smollm2-135m-instruct",
    ):
        if (candidate / "config.json").is_file():
            return candidate
    return request.getfixturevalue("demo_model_dir")


def test_a_worker_mines_principles_on_the_demo_model(
    team, author, viewer, client_for, demo_model_path, tmp_path, settings
) -> None:
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    version = published_demo_version(team, author)
    # The AI preferred a everywhere; the gold label says b on the first two pairs.
    records = [
        formats.LabelRecord(
            id=f"p{i}",
            prompt=prompt,
            response_a=a,
            response_b=b,
            judge="judge-7b",
            verdict_ab="a",
            verdict_ba="a",
            p_a_ab=0.8,
            p_a_ba=0.7,
            human="b" if i < 2 else "a",
        )
        for i, (prompt, a, b) in enumerate(PAIRS)
    ]
    label_set = labelling_services.labelset_create_from_pairs(
        team=team, user=author, name="Audited pairs", records=records
    )
    demo = services.model_register(
        team=team, user=author, name="smollm2", path=str(demo_model_path)
    )
    purge_queues()
    run = start(
        "mining",
        team=team,
        user=author,
        label_set=label_set,
        judge=demo,
        version=version,
        config={
            "max_disagreements": 2,
            "max_candidates": 2,
            "max_comparisons": 3,
            "max_new_tokens": 72,
            "batch_size": 2,
        },
        enqueue=True,
    )
    worker = Worker(tmp_path, "mining")
    try:
        wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=1800, worker=worker)
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, worker.log())
    result = run.result
    assert [p["id"] for p in result["proposals"]] == ["p0", "p1"]
    assert all(p["text"].strip() for p in result["proposals"])  # the demo model wrote something
    counts = result["counts"]
    assert counts["proposals"] == 2 == counts["parsed"] + counts["unparsed"]
    assert counts["distinct"] == counts["parsed"] - counts["duplicates"]
    assert len(result["unparsed"]) == counts["unparsed"]
    baseline = result["baseline"]
    assert baseline["n"] == 3 and 0 <= baseline["k"] <= 3
    assert len(result["candidates"]) == min(counts["distinct"], 2)
    assert all(c["agreement"]["n"] == 3 for c in result["candidates"])
    assert run.completion_tokens > 0 and run.done_units == run.total_units
    assert run.gpu_seconds > 0

    client = client_for(viewer)
    page = client.get(reverse("run_candidates", args=[team.slug, run.pk])).content.decode()
    assert f"{counts['unparsed']} could not be parsed" in page
    assert f"{baseline['k']}/{baseline['n']}" in page and "mined-agreement-chart" in page
    detail = client.get(reverse("run_detail", args=[team.slug, run.pk])).content.decode()
    assert 'id="candidates-link"' in detail
