"""A team picks a judge by evidence, in Debian's chromium at 1366x768: the author imports
the CAI paper's 438 comparisons as a gold set on the import page, launches a labeller
calibration of the tiny Llama on its first 4 pairs from the kind's launch page, watches
the run page fill in the figures (a real Celery worker does both jobs), and follows
the link to the judge's model page, which lists the calibration with its interval
and the accuracy chart."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD, shared_data_dir
from tests.factories import published_demo_version
from tests.training import conftest as training_fixtures
from tests.training.worker_process import Worker, purge_queues
from training import services, worker_models
from training.models import Run, RunStatus

demo_tokenizer_dir = training_fixtures.demo_tokenizer_dir
tiny_model_dir = training_fixtures.tiny_model_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def wide(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_the_judge_page_shows_the_calibration_a_worker_ran_on_the_gold_set(
    live_server, wide, team, author, tiny_model_dir, tmp_path, settings, shared_data
):
    from tests.browser.conftest import SCREENSHOTS

    page = wide
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    version = published_demo_version(team, author)
    worker_models.backend_cache_clear()
    judge = services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    upload = shared_data_dir() / "cai-paper-evals" / "438HHHEvaluations.jsonl"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    purge_queues()
    worker = Worker(tmp_path, "judge-page")
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(author.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")
        page.wait_for_url(re.compile(r"/t/[-\w]+/$"))

        page.goto(f"{live_server.url}/t/{team.slug}/labels/import/")
        page.locator("#id_name").fill("CAI 438 HHH")
        page.locator("#id_fmt").select_option("cai_paper")
        page.locator("#id_file").set_input_files(str(upload))
        page.get_by_role("button", name="Import").click()
        page.wait_for_url(re.compile(r"/jobs/\d+/$"))
        page.get_by_role("link", name="Open the label set").click(timeout=180_000)
        page.wait_for_url(re.compile(r"/labels/\d+/$"))
        gold_pk = int(re.search(r"/labels/(\d+)/$", page.url).group(1))

        page.goto(f"{live_server.url}/t/{team.slug}/runs/launch/calibration/")
        form = page.locator("#launch-calibration form")
        form.locator("#id_calibration-label_set").select_option(str(gold_pk))
        form.locator("#id_calibration-judge").select_option(str(judge.pk))
        form.locator("#id_calibration-version").select_option(str(version.pk))
        form.locator("#id_calibration-pair_limit").fill("4")
        form.locator("#id_calibration-batch_size").fill("2")
        form.get_by_role("button", name=re.compile("Launch")).click()
        page.wait_for_url(re.compile(r"/runs/\d+/$"))
        # The run page polls; the figures appear when the worker has judged every pair.
        figures = page.locator("#calibration-figures")
        figures.wait_for(timeout=600_000)
        run = Run.objects.latest("pk")
        assert run.status == RunStatus.SUCCEEDED, run.error
        accuracy = run.result["calibration"]["accuracy"]
        cell = page.locator("#cal-accuracy .v")
        assert cell.inner_text() == f"{accuracy['rate'] * 100:.2f}%"
        assert page.locator("#calibration-reliability-chart svg").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "judge-page-run.png"), full_page=True)

        page.locator("#judge-page").click()
        page.wait_for_url(re.compile(rf"/models/{judge.pk}/$"))
    finally:
        worker.stop()
    assert page.locator("h1").inner_text().startswith("tiny")
    rows = page.locator("#calibrations .calibration-row")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert f"#{run.pk}" in row and "CAI 438 HHH" in row and "logprob, k = 1" in row
    low, high = accuracy["ci_low"] * 100, accuracy["ci_high"] * 100
    assert f"[{low:.2f}% – {high:.2f}%]" in row
    chart = page.locator("#calibration-history-chart svg")
    assert chart.is_visible() and chart.bounding_box()["width"] > 200
    assert f"#{run.pk} " in chart.inner_html()
    page.screenshot(path=str(SCREENSHOTS / "judge-page-model.png"), full_page=True)
    # The judge's row links the gold set's statistics, sliced to this run's labels.
    rows.first.get_by_role("link", name="CAI 438 HHH").click()
    page.wait_for_url(re.compile(r"/labels/\d+/stats/\?judge="))
    assert page.locator("#n-labels").inner_text() == "4"
