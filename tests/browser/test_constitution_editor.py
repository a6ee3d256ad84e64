"""Write a constitution in a real browser: the htmx editor, live probabilities, publish,
a second draft and the diff between them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from constitutions.content import DEMO_CONSTITUTION
from constitutions.models import ConstitutionVersion, Principle
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _add_category(page, name: str, weight: str) -> None:
    form = page.locator("#add-category form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Weight").fill(weight)
    form.get_by_role("button", name="Add category").click()
    page.locator(".category-head h3", has_text=name).wait_for()


def _add_principle(page, key: str, category: str, weight: str = "1") -> None:
    form = page.locator("#add-principle form")
    form.get_by_label("Key").fill(key)
    form.get_by_label("Category").select_option(label=category)
    form.get_by_label("Critique request").fill(f"Point out where the reply fails on {key}.")
    form.get_by_label("Revision request").fill(f"Rewrite the reply so it does better on {key}.")
    form.get_by_label("Comparison question").fill(f"Which reply does better on {key}?")
    form.get_by_label("Weight").fill(weight)
    form.get_by_role("button", name="Add principle").click()
    page.locator(f"#probability-table tr[data-key='{key}']").wait_for()


def _probability(page, key: str) -> str:
    return page.locator(f"#probability-table tr[data-key='{key}'] td.num").inner_text()


def test_an_author_writes_publishes_and_revises_a_constitution(
    live_server, page, screenshot, team, author
):
    # Log in through the form.
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(author.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/t/red-team/$"))
    screenshot("dashboard")

    # Create a constitution: v1 draft with the four default categories.
    page.goto(f"{live_server.url}/t/{team.slug}/constitutions/")
    page.get_by_label("Name").fill("Browser rules")
    page.get_by_role("button", name="Create constitution").click()
    page.wait_for_url(re.compile(r"/versions/\d+/$"))
    assert "Browser rules v1" in page.locator("h1").inner_text()
    screenshot("new-draft")

    # Two categories, three principles, all through htmx swaps.
    _add_category(page, "Privacy", "1")
    _add_category(page, "Accuracy", "1")
    _add_principle(page, "no-doxxing", "Privacy")
    _add_principle(page, "no-tracking", "Privacy")
    _add_principle(page, "cite-sources", "Accuracy")
    assert _probability(page, "cite-sources") == "50.0%"
    assert _probability(page, "no-doxxing") == "25.0%"
    screenshot("three-principles")

    # Change a weight: the table and the chart update without a page reload.
    page.evaluate("window.__notReloaded = true")
    chart_before = page.locator("#probability-chart g[data-key='no-doxxing'] rect").get_attribute(
        "width"
    )
    hash_before = page.locator("#content-hash").inner_text()
    weight = page.get_by_label("Weight of principle no-doxxing")
    weight.fill("3")
    weight.dispatch_event("change")
    # A locator's expectation polls without eval (the site's CSP forbids what
    # wait_for_function needs).
    expect(page.locator("#probability-table tr[data-key='no-doxxing'] td.num")).to_have_text(
        "37.5%"
    )
    assert _probability(page, "no-tracking") == "12.5%"
    chart_after = page.locator("#probability-chart g[data-key='no-doxxing'] rect").get_attribute(
        "width"
    )
    assert float(chart_after) > float(chart_before)
    assert (
        "37.5%" in page.locator("#probability-chart g[data-key='no-doxxing'] title").text_content()
    )
    assert page.locator("#content-hash").inner_text() != hash_before
    assert page.evaluate("window.__notReloaded") is True
    assert Principle.objects.get(key="no-doxxing").weight == 3.0
    screenshot("weight-changed")

    # Publish v1.
    page.get_by_label("Changelog").fill("First version")
    page.get_by_role("button", name="Publish").click()
    page.locator(".badge.published").wait_for()
    assert page.locator("input[name=weight]").count() == 0
    v1 = ConstitutionVersion.objects.get(constitution__name="Browser rules", number=1)
    assert v1.status == "published" and page.locator("#content-hash").inner_text() == v1.short_hash
    screenshot("published")

    # Edit creates v2; edit a principle's text in place.
    page.get_by_role("button", name="Edit (creates a new draft)").click()
    page.locator("h1", has_text="Browser rules v2").wait_for()
    principle = Principle.objects.get(version__number=2, key="cite-sources")
    row = page.locator(f"#principle-{principle.pk}")
    row.get_by_role("link", name="Edit").click()
    critique = row.get_by_label("Critique request")
    critique.fill("Point out every claim in the reply that has no source.")
    row.get_by_role("button", name="Save principle").click()
    page.locator(f"#principle-{principle.pk} dd", has_text="has no source").wait_for()
    assert page.evaluate("window.__notReloaded") is None  # a real navigation happened at publish
    screenshot("v2-edited")

    # The diff v1 -> v2 shows the change.
    page.get_by_role("link", name="Compare versions").click()
    page.locator("#diff-cite-sources").wait_for()
    inserted = " ".join(page.locator("#diff-cite-sources ins").all_inner_texts())
    deleted = " ".join(page.locator("#diff-cite-sources del").all_inner_texts())
    assert "every claim" in inserted and "source" in inserted
    assert "where" in deleted and "fails" in deleted
    screenshot("diff")


def test_the_probability_chart_has_a_category_legend_and_a_data_table_at_1366(
    live_server, browser, team, author
):
    from constitutions import services

    version = services.constitution_create(
        team=team, user=author, name="Demo rules", content=DEMO_CONSTITUTION
    )
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(author.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/t/red-team/$"))
    page.goto(f"{live_server.url}/versions/{version.pk}/")

    # A legend of the categories, each its own colour, and both axes titled.
    chart = page.locator("#probability-chart")
    svg = chart.locator("svg")
    categories = [c.name for c in DEMO_CONSTITUTION.categories]
    legend = svg.locator(".legend-item")
    names = legend.all_text_contents()
    assert names and set(names) <= set(categories) and len(names) > 2
    fills = {legend.nth(i).locator("rect").get_attribute("fill") for i in range(len(names))}
    assert len(fills) == len(names)
    assert svg.locator(".axis-title").all_text_contents() == [
        "principle",
        "effective probability (share of draws)",
    ]
    box = svg.bounding_box()
    assert box["x"] + box["width"] <= 1366
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "editor-chart-legend.png"), full_page=True)

    # Hover a bar: its value. Click a category in the legend: its bars go.
    bar = svg.locator("g[data-key='dangerous-assistance'] rect")
    bar.hover()
    tip = page.locator(".chart-tip")
    tip.wait_for(state="visible")
    assert "dangerous-assistance" in tip.inner_text() and "%" in tip.inner_text()
    legend.first.click()
    assert svg.locator('.series[data-series="0"]').evaluate("g => g.style.display") == "none"

    # The data table lists every drawn principle.
    chart.get_by_text("Data table").click()
    rows = chart.locator("details.chart-data tbody tr")
    assert "dangerous-assistance" in rows.all_inner_texts()[0]
    assert rows.count() == page.locator("#probability-table tbody tr").count()

    # A weight change swaps the chart: the hidden category and the open table stay.
    before = page.locator("#probability-table tr[data-key='dangerous-assistance'] td.num")
    old = before.inner_text()
    weight = page.get_by_label("Weight of principle dangerous-assistance")
    weight.fill("9")
    weight.dispatch_event("change")
    expect(before).not_to_have_text(old)
    expect(chart.locator("details.chart-data[open]")).to_have_count(1)
    expect(svg.locator('.series[data-series="0"]')).to_be_hidden()
    expect(svg.locator('.series[data-series="1"]')).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "editor-chart-table.png"), full_page=True)
    context.close()
