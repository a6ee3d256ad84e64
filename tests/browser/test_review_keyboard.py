"""An auditor reviews five items with the keyboard alone; htmx brings each next item
without a full page load, and the AI's verdict appears only after each submission."""

from __future__ import annotations

import re

import pytest

from labelling import services
from labelling.formats import LabelRecord
from labelling.models import HumanReview, QueueItem
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = ["1", "2", "3", "4", "1"]
EXPECTED_CHOICE = {"1": "first", "2": "second", "3": "tie", "4": "both_bad"}


def _queue(team, author, auditor):
    records = [
        LabelRecord(
            id=f"k{i}",
            prompt=f"Keyboard question {i}: how do I stay safe online?",
            response_a=f"Use strong unique passwords and a password manager ({i}).",
            response_b=f"Just reuse one password everywhere, it is fine ({i}).",
            judge="judge-7b",
            verdict_ab="a",
            verdict_ba="a" if i % 2 else "b",
            p_a_ab=0.81,
            p_a_ba=0.64 if i % 2 else 0.37,
            principle="honesty",
            metadata={"harmful": True} if i == 2 else {},
        )
        for i in range(1, 7)
    ]
    label_set = services.labelset_create_from_pairs(
        team=team, user=author, name="Keyboard", records=records
    )
    return services.queue_create(
        label_set=label_set, user=auditor, strategy="uniform", sample_size=6, seed=11
    )


def test_an_auditor_reviews_five_items_with_the_keyboard_alone(
    live_server, page, screenshot, team, author, auditor
):
    queue = _queue(team, author, auditor)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(auditor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r"/t/red-team/$"))

    page.goto(f"{live_server.url}/t/{team.slug}/queues/{queue.pk}/next/")
    page.wait_for_url(re.compile(r"/items/1/$"))
    # A marker that survives only if no full page load happens from here on.
    page.evaluate("window.__samePage = true")

    page.keyboard.press("?")
    assert page.locator("#review-help").is_visible()
    screenshot("help")
    page.keyboard.press("?")
    assert not page.locator("#review-help").is_visible()

    for n, key in enumerate(KEYS, start=1):
        item = page.locator("#review-item")
        assert item.get_attribute("data-position") == str(n)
        assert item.get_attribute("data-reviewed") == "no"
        assert page.locator("#reveal").count() == 0 and "P(a)" not in item.inner_html()
        if page.locator("#answer-left .blurred").count():
            screenshot(f"item-{n}-harmful-blurred")
        if n == 1:
            page.keyboard.press("f")
            assert page.locator("#flags").get_attribute("open") is not None
            page.keyboard.press("f")
        page.keyboard.press(key)
        page.locator("#reveal").wait_for()
        assert "P(a) in AB" in page.locator("#reveal").inner_text()
        assert page.locator("#progress-done").inner_text() == str(n)
        screenshot(f"item-{n}-revealed")
        page.keyboard.press("n")
        page.locator(f'#review-item[data-position="{n + 1}"]').wait_for()

    assert page.evaluate("window.__samePage") is True  # every step was an htmx swap
    assert page.url.endswith("/items/6/")  # the address follows the item
    screenshot("sixth-item")

    reviews = HumanReview.objects.filter(reviewer=auditor).select_related("comparison")
    assert reviews.count() == 5
    for n, key in enumerate(KEYS, start=1):
        c = QueueItem.objects.get(queue=queue, position=n).comparison
        review = reviews.get(comparison=c)
        assert review.verdict == services.canonical_verdict(
            EXPECTED_CHOICE[key], review.shown_order
        )
        assert review.shown_order == services.shown_order_for(
            seed=queue.seed, reviewer_id=auditor.pk, comparison_id=c.pk
        )
