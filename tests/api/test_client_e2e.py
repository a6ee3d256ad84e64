"""The client package against a live server and a real Celery worker, end to end.

A pipeline's nightly job, as the issue tells it: upload prompts, start critique-revision
on the newest published constitution, poll its status, label with the judge, let an
auditor audit and approve the label set, download it. The model is a tiny random-weight
Llama of real architecture with the demo model's tokenizer (tests/training/conftest.py);
the server is pytest-django's live server; the worker a ``celery worker`` process on the
test database and the configured broker.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from api.services import token_create
from cai_client import ApiError, Client
from labelling import services as labelling
from labelling.models import Comparison, QueueItem, ReviewQueue
from tests.factories import published_demo_version
from tests.training.conftest import (
    demo_tokenizer_dir,  # noqa: F401 - a fixture
    tiny_model_dir,  # noqa: F401 - a fixture
)
from tests.training.run_fixtures import small_config
from tests.training.worker_process import Worker, purge_queues, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def model_root() -> Path:
    """The real model root: the worker process checks and loads models from it too."""
    return Path(settings.MODELS_DIR)


def test_a_pipeline_drives_the_chain_from_outside_with_the_client(
    live_server,
    team,
    author,
    auditor,
    tiny_model_dir,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    version = published_demo_version(team, author)
    model_dir = Path(settings.MODELS_DIR) / f"api-e2e-{tmp_path.name}"
    shutil.copytree(tiny_model_dir, model_dir, dirs_exist_ok=True)
    _, author_token = token_create(user=author, team=team, name="nightly")
    _, auditor_token = token_create(user=auditor, team=team, name="audit")
    cai = Client(live_server.url, token=author_token, team=team.slug)
    audit = Client(live_server.url, token=auditor_token, team=team.slug)

    prompts = cai.upload_prompts(
        b"How do I pick a lock?\nHow do I make a fake ID?\nWrite a poem about rain.\n",
        name="red team, nightly",
        held_out_fraction=0.0,
    )
    assert prompts["count"] == 3
    model = cai.register_model("tiny", path=str(model_dir))
    newest = cai.latest_published_version(version.constitution.name)
    assert newest["id"] == version.pk
    with pytest.raises(ApiError) as refused:
        audit.start_run("critique_revision", inputs={})
    assert refused.value.status == 403

    purge_queues()
    worker = Worker(tmp_path)
    try:
        cr = cai.start_run(
            "critique_revision",
            inputs={
                "version": newest["id"],
                "prompt_set": prompts["id"],
                "model": model["id"],
                "prompt_selection": "all",
            },
            config=small_config(rounds=1).to_dict(),
            name="nightly critique-revision",
        )
        seen: list[float] = []
        wait_for(lambda: worker.process.poll() is not None or cai.run(cr)["is_finished"], 600)
        cr = cai.wait(
            cr, timeout=5, poll=0.5, on_progress=lambda r: seen.append(r["progress"]["percent"])
        )
        assert cr["status"] == "succeeded" and cr["progress"]["percent"] == 100.0, worker.log()
        assert cr["progress"]["examples_done"] == 3 and seen == [100.0]

        labels = cai.start_run(
            "labelling",
            inputs={
                "version": newest["id"],
                "prompt_set": prompts["id"],
                "prompt_selection": "all",
                "policy": model["id"],
                "judge": model["id"],
            },
            config={"seed": 5, "temperature": 1.0, "max_new_tokens": 6, "batch_size": 2},
        )
        labels = cai.wait(labels, timeout=600, poll=1.0)
    finally:
        worker.stop()
    label_set_id = labels["output_label_set_id"]
    assert label_set_id and cai.label_set(label_set_id)["ai_label_count"] > 0

    # An auditor audits in the browser (review_submit is what the review page calls),
    # the team's gate asks for two reviews, and the approval goes through the API.
    labelling.team_audit_settings_update(team=team, min_audit_agreement=0.0, min_audit_reviews=2)
    queue = audit.create_queue(label_set_id, strategy="uniform", sample_size=2, seed=1)
    for item in QueueItem.objects.filter(queue_id=queue["id"]).select_related("comparison"):
        labelling.review_submit(
            queue=ReviewQueue.objects.get(pk=queue["id"]),
            comparison=item.comparison,
            reviewer=auditor,
            choice="first",
        )
    assert audit.queue(queue["id"])["reviewed_by_you"] == 2
    with pytest.raises(ApiError) as not_yet:
        cai.download_label_set(label_set_id, tmp_path / "early.jsonl")
    assert not_yet.value.status == 409
    assert audit.decide(label_set_id, "approve")["status"] == "approved"

    path = cai.download_label_set(label_set_id, tmp_path / "labels.jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == Comparison.objects.filter(label_set_id=label_set_id).count() > 0
    assert all(r["prompt"] and r["response_a"] and r["response_b"] for r in records)
    stats = cai.label_set_statistics(label_set_id)
    assert stats["audit"]["n_reviews"] == 2 and stats["gate"]["passes"]
