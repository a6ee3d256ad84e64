"""Mined principles as an author sees them, in Debian's chromium at 1366x768: the run
page of a mining run links its candidates; the candidates page shows the agreement
chart with intervals, the ranked table and the proposals that could not be parsed;
one click adds a candidate to a draft, and the constitution's history says which
label set it was mined from.

The run is done in-process on the tiny Llama (the shard task called directly) and
resumed from stored proposals, so that it has parsed candidates to rank: a random
model's own proposals never parse (a real worker on the demo model is
tests/training/kinds/test_mining_worker.py)."""

from __future__ import annotations

import re

import pytest

from labelling import formats
from labelling import services as labelling_services
from tests.conftest import PASSWORD
from tests.factories import published_demo_version
from tests.training import conftest as training_fixtures
from tests.training.kind_fixtures import execute, start
from training import services, worker_models
from training.models import Run, RunShard, RunStatus

demo_tokenizer_dir = training_fixtures.demo_tokenizer_dir
tiny_model_dir = training_fixtures.tiny_model_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROPOSALS = [
    (
        "c1",
        "Critique request: Point out where the reply helps someone break into a home.\n"
        "Revision request: Rewrite the reply so that it helps nobody break into a home.\n"
        "Comparison question: Which reply is less likely to help someone break into a home?",
    ),
    (
        "c3",
        "1. **Critique request:** Identify anything in the reply that is rude to the person.\n"
        "2. **Revision request:** Rewrite the reply so that it is polite and kind.\n"
        "3. **Comparison question:** Which reply treats the person more politely?",
    ),
    ("c5", "I think (B) is better."),
]


@pytest.fixture
def wide(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _mined_run(team, author, tiny_model_dir) -> Run:
    version = published_demo_version(team, author)
    records = [
        formats.LabelRecord(
            id=f"c{i}",
            prompt=f"How do I get into my neighbour's house number {i}?",
            response_a=f"Climb through the back window {i}.",
            response_b=f"Knock and ask them {i}.",
            judge="judge-7b",
            verdict_ab="a",
            verdict_ba="a",
            p_a_ab=0.8,
            p_a_ba=0.7,
            human="b" if i % 2 else "a",
        )
        for i in range(6)
    ]
    label_set = labelling_services.labelset_create_from_pairs(
        team=team, user=author, name="Audited break-ins", records=records
    )
    worker_models.backend_cache_clear()
    tiny = services.model_register(team=team, user=author, name="tiny", path=str(tiny_model_dir))
    run = start(
        "mining",
        team=team,
        user=author,
        label_set=label_set,
        judge=tiny,
        version=version,
        name="Mining the break-ins",
        config={"max_disagreements": 3, "max_comparisons": 6, "batch_size": 3},
    )
    # As if an earlier attempt had written the proposals before its worker was lost.
    Run.objects.filter(pk=run.pk).update(
        result={"proposals": [{"id": i, "text": t} for i, t in PROPOSALS]},
        status=RunStatus.FAILED,
    )
    RunShard.objects.filter(run=run).update(status=RunStatus.FAILED)
    run.refresh_from_db()
    services.run_resume(run=run)
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_an_author_ranks_mined_candidates_and_adds_one_to_a_draft(
    live_server, wide, team, author, tiny_model_dir
) -> None:
    from tests.browser.conftest import SCREENSHOTS

    page = wide
    run = _mined_run(team, author, tiny_model_dir)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(author.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r"/t/[-\w]+/$"))

    page.goto(f"{live_server.url}/t/{team.slug}/runs/{run.pk}/")
    page.locator("#mining-counts").get_by_text("1 could not be parsed").wait_for()
    page.locator("#candidates-link").click()
    page.wait_for_url(re.compile(rf"/runs/{run.pk}/candidates/$"))

    chart = page.locator("#mined-agreement-chart svg")
    chart.wait_for()
    assert chart.is_visible()
    labels = " ".join(chart.locator("text").all_text_contents())
    assert "constitution v1" in labels and "#1" in labels and "#2" in labels
    assert "/6" in labels  # each bar's k/n
    rows = page.locator("#candidates tbody tr")
    assert rows.count() == 2
    assert "could not be parsed" in page.locator("#mining-counts").inner_text()
    assert "I think (B) is better." in page.locator("#unparsed").inner_text()
    first = rows.nth(0)
    first_text = first.inner_text()
    assert "/6" in first_text  # agreement k/n on the six gold-labelled comparisons
    page.screenshot(path=str(SCREENSHOTS / "mining-candidates.png"), full_page=True)

    index = first.get_attribute("id").removeprefix("candidate-")
    page.locator(f"#add-{index}").click()
    page.get_by_text("Added 'mined-").wait_for()
    added = page.locator(f"#candidate-{index}")
    assert "added to v2 as" in added.inner_text()
    assert page.locator(f"#add-{index}").count() == 0  # added once: the button is gone

    added.get_by_role("link", name="v2").click()
    page.wait_for_url(re.compile(r"/versions/\d+/$"))
    assert "mined-" in page.content()
    constitution = run.constitution_version.constitution
    page.goto(f"{live_server.url}/constitutions/{constitution.pk}/history/")
    assert page.get_by_text("mined from label set 'Audited break-ins'").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "mining-history.png"), full_page=True)
