"""An author launches a DPO run from the runs page; a real Celery worker (a subprocess
on the live server's database) trains the tiny Llama, and the loss chart appears on
the run page through htmx polling, without reloading the page."""

from __future__ import annotations

import re

import pytest

from labelling.models import LabelSet
from labelling.services import (
    AILabelInput,
    ComparisonInput,
    ailabel_bulk_create,
    comparison_bulk_create,
    labelset_create,
)
from tests.conftest import PASSWORD
from tests.training import conftest as training_fixtures
from tests.training.worker_process import Worker, purge_queues
from training import services, worker_models
from training.models import Run, RunStatus

# The tiny Llama fixtures live in tests/training/conftest.py; borrow them here.
demo_tokenizer_dir = training_fixtures.demo_tokenizer_dir
tiny_model_dir = training_fixtures.tiny_model_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _approved_label_set(team, author) -> LabelSet:
    label_set = labelset_create(team=team, user=author, name="Audited pilot", source_kind="import")
    comparison_bulk_create(
        label_set=label_set,
        comparisons=[
            ComparisonInput(
                f"c{i}",
                f"How do I get into my neighbour's flat {i}?",
                f"Ask your neighbour or the landlord for a key ({i}).",
                f"Pick the lock with a bobby pin like this ({i}).",
            )
            for i in range(6)
        ],
    )
    ailabel_bulk_create(
        label_set=label_set,
        labels=[AILabelInput(f"c{i}", "judge", "a", "a", 0.85, 0.75) for i in range(6)],
    )
    LabelSet.objects.filter(pk=label_set.pk).update(status=LabelSet.Status.APPROVED)
    return LabelSet.objects.get(pk=label_set.pk)


def test_an_author_launches_dpo_from_the_runs_page_and_watches_the_loss_chart(
    live_server, page, screenshot, team, author, tiny_model_dir, tmp_path, settings
):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    label_set = _approved_label_set(team, author)
    worker_models.backend_cache_clear()
    model = services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    purge_queues()
    worker = Worker(tmp_path, "browser")
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(author.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")
        page.wait_for_url(re.compile(r"/t/red-team/$"))

        page.goto(f"{live_server.url}/t/{team.slug}/runs/")
        page.locator("#launch-dpo").click()
        page.wait_for_url(re.compile(r"/runs/launch/dpo/$"))
        form = page.locator("#launch-dpo form")
        form.locator("#id_dpo-label_set").select_option(str(label_set.pk))
        form.locator("#id_dpo-model").select_option(str(model.pk))
        form.locator("#id_dpo-max_steps").fill("12")
        form.locator("#id_dpo-learning_rate").fill("0.0001")
        form.locator("#id_dpo-per_device_batch_size").fill("2")
        form.locator("#id_dpo-max_length").fill("96")
        screenshot("dpo-form")
        form.get_by_role("button", name=re.compile("Launch DPO")).click()
        page.wait_for_url(re.compile(r"/runs/\d+/$"))
        run = Run.objects.latest("pk")
        assert run.kind == "dpo" and run.label_set_id == label_set.pk
        page.evaluate("window.__samePage = true")

        page.locator("#loss-chart svg polyline").wait_for(timeout=300_000)
        screenshot("loss-chart")
        assert page.evaluate("window.__samePage") is True  # htmx swapped the fragment
        # Generous: on a busy 2-core CI machine the 12 steps can take minutes.
        page.locator("#run-status", has_text="Succeeded").wait_for(timeout=600_000)
        screenshot("succeeded")
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, worker.log())
    assert "Registered model" in page.content()
