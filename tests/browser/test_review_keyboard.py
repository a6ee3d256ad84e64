"""An auditor reviews five items with the keyboard alone at 1366×768 (no mouse event at
all): the choice panel with its keys stays in the viewport however long the answers are,
``?`` opens the help in the viewport, ``r`` reveals answers blurred as harmful, ``h``
toggles a flag; htmx brings each next item without a full page load, and the AI's
verdict appears only after each submission."""

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
VIEWPORT = {"width": 1366, "height": 768}
# Long answers: the page is several screens tall, so a panel that did not stay in
# view would be far below the fold.
LONG = " ".join(["Keep every account behind its own long password."] * 60)


def _queue(team, author, auditor):
    records = [
        LabelRecord(
            id=f"k{i}",
            prompt=f"Keyboard question {i}: how do I stay safe online?",
            response_a=f"Use strong unique passwords and a password manager ({i}). {LONG}",
            response_b=f"Just reuse one password everywhere, it is fine ({i}). {LONG}",
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


def _in_viewport(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not rendered"
    assert page.locator(selector).is_visible(), selector
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"] + 0.5, (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"] + 0.5, (selector, box)


def _wait_until(page, condition: str, seconds: float = 5.0) -> None:
    """Poll ``condition`` (the site's CSP forbids the eval wait_for_function needs)."""
    for _ in range(int(seconds * 20)):
        if page.evaluate(condition):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true: {condition}")


@pytest.fixture
def keyboard_page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    # Any mouse event reaching the page fails the test: the keyboard is all there is.
    page.add_init_script(
        "['mousedown','mouseup','click','mousemove','pointerdown'].forEach(function (t) {"
        " document.addEventListener(t, function (e) { if (e.isTrusted) window.__mouse = (window.__mouse || 0) + 1; }, true); });"
    )
    yield page
    context.close()


def test_an_auditor_reviews_five_items_with_the_keyboard_alone(
    live_server, keyboard_page, team, author, auditor
):
    page = keyboard_page
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
    assert page.evaluate("document.documentElement.scrollHeight") > 2 * VIEWPORT["height"]

    page.keyboard.press("?")
    _in_viewport(page, "#review-help")
    assert "both unacceptable" in page.locator("#review-help").inner_text()
    page.keyboard.press("?")
    assert not page.locator("#review-help").is_visible()
    page.keyboard.press("?")
    page.keyboard.press("Escape")  # the dialog's own Esc closes it too
    assert not page.locator("#review-help").is_visible()

    flagged, revealed = None, 0
    for n, key in enumerate(KEYS, start=1):
        item = page.locator("#review-item")
        assert item.get_attribute("data-position") == str(n)
        assert item.get_attribute("data-reviewed") == "no"
        assert page.locator("#reveal").count() == 0 and "P(a)" not in item.inner_html()
        # The panel and each choice key are in view at the top of the item...
        _in_viewport(page, "#choice-panel")
        for k in "1234":
            _in_viewport(page, f'#choice-panel button[data-key="{k}"]')
        # ...and after scrolling down through the long answers with the keyboard.
        page.keyboard.press("PageDown")
        page.keyboard.press("PageDown")
        _wait_until(page, "window.scrollY > 500")
        _in_viewport(page, "#choice-panel")
        if page.locator("#answer-left .blurred").count():
            page.keyboard.press("r")
            assert page.locator("#review-item .blurred").count() == 0
            revealed += 1
        if n == 1:
            page.keyboard.press("h")
            assert page.locator('#flags input[name="flag_harmful"]').is_checked()
            page.keyboard.press("w")
            page.keyboard.press("w")
            assert not page.locator('#flags input[name="flag_ai_wrong"]').is_checked()
            flagged = QueueItem.objects.get(queue=queue, position=1).comparison_id
        page.keyboard.press(key)
        page.locator("#reveal").wait_for()
        assert "P(a) in AB" in page.locator("#reveal").inner_text()
        assert page.locator("#progress-done").inner_text() == str(n)
        assert page.locator("#progress-text").inner_text() == f"{n} / 6 reviewed, {n} by you"
        _in_viewport(page, "#next-link")
        page.keyboard.press("n")
        page.locator(f'#review-item[data-position="{n + 1}"]').wait_for()

    assert page.evaluate("window.__samePage") is True  # every step was an htmx swap
    assert page.evaluate("window.__mouse || 0") == 0  # and no mouse event ever happened
    assert page.url.endswith("/items/6/")  # the address follows the item
    assert revealed == 1  # the one harmful item was blurred until r

    reviews = HumanReview.objects.filter(reviewer=auditor).select_related("comparison")
    assert reviews.count() == 5
    assert reviews.get(comparison_id=flagged).flag_harmful
    assert not reviews.get(comparison_id=flagged).flag_ai_wrong
    for n, key in enumerate(KEYS, start=1):
        c = QueueItem.objects.get(queue=queue, position=n).comparison
        review = reviews.get(comparison=c)
        assert review.verdict == services.canonical_verdict(
            EXPECTED_CHOICE[key], review.shown_order
        )
        assert review.shown_order == services.shown_order_for(
            seed=queue.seed, reviewer_id=auditor.pk, comparison_id=c.pk
        )

    # The queue page marks the five as reviewed by this auditor.
    page.goto(f"{live_server.url}/t/{team.slug}/queues/{queue.pk}/")
    assert page.locator("#queue-items tr.mine").count() == 5
    assert "5 / 6 reviewed, 5 by you." in page.locator("#queue-progress").inner_text()
