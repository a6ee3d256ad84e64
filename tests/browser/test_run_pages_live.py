"""The run pages as a person sees them at 1366x768 in Debian's chromium.

The status line moves while the page polls (the test writes the shard rows a worker
would write, between polls), relative times tick in the browser, a banner says when
the server stops answering, the metric chart shows values under the pointer, hides a
series from its legend and zooms, its data table opens (with and without JavaScript)
and stays open across polls, and the compare page overlays two runs on one chart.
A real worker driving a run page is tests/browser/test_dpo_launch.py.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from training.models import Run, RunMetric, RunShard, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def wide(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _login(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r"/t/[-\w]+/$"))


def _shoot(page, name: str) -> None:
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"run-pages-{name}.png"), full_page=True)


def _trainer_run(team, user, name: str, losses: list[float], **fields) -> Run:
    run = Run.objects.create(
        team=team,
        kind="sft",
        name=name,
        created_by=user,
        config={"train": {"max_steps": len(losses), "learning_rate": 1e-4 * len(name)}},
        total_units=len(losses),
        **fields,
    )
    RunShard.objects.create(run=run, index=0, start=0, end=1, total_units=len(losses))
    RunMetric.objects.bulk_create(
        [RunMetric(run=run, step=i + 1, name="loss", value=v) for i, v in enumerate(losses)]
    )
    return run


def test_the_status_moves_times_tick_and_a_banner_shows_when_the_server_stops_answering(
    live_server, wide, team, author
):
    now = timezone.now()
    run = _trainer_run(
        team,
        author,
        "watched",
        [2.0, 1.5, 1.2],
        status=RunStatus.RUNNING,
        started_at=now - timedelta(seconds=90),
        heartbeat_at=now,
        done_units=3,
    )
    run.total_units = 12
    run.save(update_fields=["total_units"])
    run.shards.update(
        status=RunStatus.RUNNING, stage="training 3/12", heartbeat_at=now, worker="gpu-1"
    )
    _login(wide, live_server, author)
    wide.goto(f"{live_server.url}/t/{team.slug}/runs/{run.pk}/")
    stage = wide.locator("#run-stage")
    assert "batch 3 / 12" in stage.inner_text()
    eta = wide.locator("#run-eta [data-countdown]")
    first_eta = eta.inner_text()
    assert re.fullmatch(r"\d+ min \d+ s", first_eta), first_eta  # 9 steps at 2 s each
    beat = wide.locator("#run-heartbeat time")
    assert beat.get_attribute("title").endswith("UTC")  # local time (zone) · UTC
    assert "(" in beat.get_attribute("title")
    _shoot(wide, "status-1")

    # The worker moves on: the page shows it without a reload.
    wide.evaluate("window.__samePage = true")
    RunShard.objects.filter(run=run).update(stage="evaluating 1/2", heartbeat_at=timezone.now())
    wide.locator("#run-stage", has_text="evaluating").wait_for()
    assert "batch 1 / 2" in stage.inner_text()
    assert wide.evaluate("window.__samePage") is True
    # "started … ago" ticks in the browser between polls.
    started = wide.locator("#run-setup time").nth(1)
    before = started.inner_text()
    # (Polled from here: the site's CSP forbids the eval that wait_for_function needs.)
    for _ in range(70):
        if started.inner_text() != before:
            break
        wide.wait_for_timeout(1000)
    assert started.inner_text() != before

    # The server stops answering: a banner says so, and goes once it answers again.
    def refuse(route):
        if route.request.headers.get("hx-request"):
            route.abort()
        else:
            route.continue_()

    wide.route(re.compile(r".*/runs/\d+/$"), refuse)
    banner = wide.locator("#offline-banner")
    banner.wait_for(state="visible")
    assert "not answering" in banner.inner_text()
    _shoot(wide, "status-offline")
    wide.unroute(re.compile(r".*/runs/\d+/$"))
    banner.wait_for(state="hidden")


def test_the_metric_chart_shows_hover_values_hides_a_series_and_zooms(
    live_server, wide, team, author
):
    run = _trainer_run(
        team, author, "curves", [2.0 - 0.1 * i for i in range(20)], status=RunStatus.SUCCEEDED
    )
    RunMetric.objects.bulk_create(
        [RunMetric(run=run, step=s, name="eval_loss", value=2.2 - 0.1 * s) for s in (5, 10, 15, 20)]
    )
    _login(wide, live_server, author)
    wide.goto(f"{live_server.url}/t/{team.slug}/runs/{run.pk}/")
    svg = wide.locator("#loss-chart svg")
    box = svg.bounding_box()
    assert box["x"] + box["width"] <= 1366  # nothing cut off at 1366 px
    # Every axis carries labels: several steps, not only the first and the last.
    steps = svg.locator(".x-axis text").all_text_contents()
    assert len(steps) >= 4 and steps[0] == "1" and steps[-1] == "20"
    wide.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = wide.locator(".chart-tip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert re.search(r"step \d+", text) and "loss:" in text and "eval_loss" in text
    _shoot(wide, "chart-hover")

    # The legend hides a series.
    svg.locator('.legend-item[data-series="1"]').click()
    assert svg.locator('.series[data-series="1"]').evaluate("g => g.style.display") == "none"
    wide.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    assert "eval_loss" not in tip.inner_text()
    svg.locator('.legend-item[data-series="1"]').click()

    # Drag across the plot to zoom into some steps; double-click to reset.
    y = box["y"] + box["height"] * 0.5
    wide.mouse.move(box["x"] + box["width"] * 0.3, y)
    wide.mouse.down()
    wide.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    wide.mouse.up()
    note = svg.locator(".zoom-note")
    assert re.match(r"steps \d+–\d+", note.text_content())
    zoomed = svg.locator(".x-axis text").all_text_contents()
    assert zoomed[0] != "1" and zoomed[-1] != "20"
    _shoot(wide, "chart-zoomed")
    svg.dblclick()
    assert svg.locator(".x-axis text").all_text_contents()[-1] == "20"


def test_the_compare_view_overlays_two_runs_on_one_chart(live_server, wide, team, author):
    a = _trainer_run(team, author, "lr-small", [2.0, 1.8, 1.7, 1.65], status=RunStatus.SUCCEEDED)
    b = _trainer_run(team, author, "lr-bigger", [2.0, 1.4, 1.1, 1.0], status=RunStatus.SUCCEEDED)
    _login(wide, live_server, author)
    wide.goto(f"{live_server.url}/t/{team.slug}/runs/")
    wide.get_by_label(f"Compare {a.name}").check()
    wide.get_by_label(f"Compare {b.name}").check()
    wide.locator("#compare-button").click()
    wide.wait_for_url(re.compile(r"/runs/compare/\?run="))
    svg = wide.locator("#compare-loss-chart svg")
    assert svg.locator("polyline").count() == 2
    legend = svg.locator(".legend-item").all_text_contents()
    assert any("lr-small" in t for t in legend) and any("lr-bigger" in t for t in legend)
    box = svg.bounding_box()
    wide.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5)
    tip = wide.locator(".chart-tip")
    tip.wait_for(state="visible")
    assert "lr-small" in tip.inner_text() and "lr-bigger" in tip.inner_text()
    differs = wide.locator(".config-diff tr.differs").all_inner_texts()
    assert any("train.learning_rate" in row for row in differs)
    _shoot(wide, "compare")


def test_a_charts_data_table_reads_without_javascript_and_stays_open_across_polls(
    live_server, browser, wide, team, author
):
    now = timezone.now()
    losses = [2.0 - 0.01 * i for i in range(40)]  # past 30 points: no per-point hover titles
    run = _trainer_run(
        team,
        author,
        "tabled",
        losses,
        status=RunStatus.RUNNING,
        started_at=now - timedelta(seconds=60),
        heartbeat_at=now,
        done_units=40,
    )
    run.total_units = 100
    run.save(update_fields=["total_units"])
    run.shards.update(
        status=RunStatus.RUNNING, stage="training 40/100", heartbeat_at=now, worker="gpu-1"
    )
    url = f"{live_server.url}/t/{team.slug}/runs/{run.pk}/"

    # Without JavaScript: the SVG titles only the last point, the table holds all 40.
    plain = browser.new_context(viewport={"width": 1366, "height": 768}, java_script_enabled=False)
    page = plain.new_page()
    page.set_default_timeout(15_000)
    _login(page, live_server, author)
    page.goto(url)
    chart = page.locator("#loss-chart")
    assert chart.locator("svg .series title").count() == 1
    assert chart.locator(".axis-title").all_text_contents() == ["step", "loss"]
    chart.get_by_text("Data table").click()
    rows = chart.locator("details.chart-data tbody tr")
    rows.first.wait_for()
    assert rows.count() == 40
    assert rows.nth(36).locator("th").inner_text() == "37"
    assert rows.nth(36).locator("td").inner_text() == f"{losses[36]:.6g}"
    box = chart.locator("details.chart-data").bounding_box()
    assert box["x"] + box["width"] <= 1366
    _shoot(page, "chart-table-no-js")
    plain.close()

    # With JavaScript the fragment is swapped every 2 s: an opened table stays open.
    _login(wide, live_server, author)
    wide.goto(url)
    table = wide.locator("#loss-chart details.chart-data")
    table.locator("summary").click()
    assert table.evaluate("d => d.open") is True
    RunShard.objects.filter(run=run).update(stage="evaluating 1/2", heartbeat_at=timezone.now())
    wide.locator("#run-stage", has_text="evaluating").wait_for()
    # (the script reopens it as the swap settles; a locator's expectation polls)
    expect(wide.locator("#loss-chart details.chart-data[open]")).to_have_count(1)
    assert wide.locator("#loss-chart details.chart-data tbody tr").count() == 40
    _shoot(wide, "chart-table")
