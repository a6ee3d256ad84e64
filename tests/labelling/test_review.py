"""The review screen: blind until submitted, randomised order recorded and mapped back,
idempotent submits, htmx next item, harmful answers blurred."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from labelling import services
from labelling.models import AILabel, Comparison, HumanReview, QueueItem

pytestmark = pytest.mark.django_db


def item_url(team, queue, position):
    return reverse("review_item", args=[team.slug, queue.pk, position])


def ai_secrets(comparison: Comparison) -> list[str]:
    """Every string by which the page could give the AI's answer away."""
    out = ["P(a)", "debiased", 'id="reveal"', "Order AB verdict", "disagrees", "agrees"]
    for lab in AILabel.objects.filter(comparison=comparison):
        out.append(lab.judge)
        for p in (lab.p_a_ab, lab.p_a_ba, lab.p_debiased):
            if p is not None:
                out += [f"{p:.3f}", f"{p:.2f}", repr(p)]
    return out


def test_blind_mode_never_puts_the_ai_verdict_in_the_page_before_submission(
    client_for, auditor, team, queue
):
    client = client_for(auditor)
    for item in QueueItem.objects.filter(queue=queue).select_related("comparison"):
        for htmx in (False, True):
            extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            page = client.get(item_url(team, queue, item.position), **extra).content.decode()
            body = page.split("<main>")[1] if "<main>" in page else page
            for secret in ai_secrets(item.comparison):
                # A number counts only as a whole token (not inside a timestamp or "2.0.8").
                pattern = (
                    rf"(?<![\d.]){re.escape(secret)}(?![\d.])"
                    if secret[0].isdigit()
                    else re.escape(secret)
                )
                assert not re.search(pattern, body), (item.position, secret)
            # No verdict value of the AI anywhere: the only a/b words are the answers' own.
            assert not re.search(r"verdict[^<]{0,40}\b(a|b|tie)\b", body)
            assert "response a" not in body and "response b" not in body


def test_after_submitting_the_probabilities_of_both_orders_are_revealed(
    client_for, auditor, team, queue
):
    client = client_for(auditor)
    item = QueueItem.objects.get(queue=queue, position=1)
    body = client.post(
        item_url(team, queue, 1), {"choice": "first"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    lab = AILabel.objects.get(comparison=item.comparison)
    assert 'id="reveal"' in body
    assert (
        f"{lab.p_a_ab:.3f}" in body
        and f"{lab.p_a_ba:.3f}" in body
        and f"{lab.p_debiased:.3f}" in body
    )
    review = HumanReview.objects.get(comparison=item.comparison, reviewer=auditor)
    if lab.final != review.verdict:
        assert "disagrees with you" in body and 'class="conflict"' in body
    else:
        assert "disagrees with you" not in body


def test_the_randomised_order_is_recorded_and_mapped_back_to_a_and_b(
    client_for, auditor, team, queue
):
    client = client_for(auditor)
    orders = set()
    for item in QueueItem.objects.filter(queue=queue).select_related("comparison"):
        c = item.comparison
        body = client.get(item_url(team, queue, item.position)).content.decode()
        left = body.index('id="answer-left"')
        right = body.index('id="answer-right"')
        a_at, b_at = body.index(c.response_a), body.index(c.response_b)
        shown = "ab" if left < a_at < right < b_at else "ba"
        assert shown == "ab" or left < b_at < right < a_at
        client.post(item_url(team, queue, item.position), {"choice": "first"})
        review = HumanReview.objects.get(comparison=c, reviewer=auditor)
        assert review.shown_order == shown  # what the reviewer saw is what was recorded
        assert review.verdict == ("a" if shown == "ab" else "b")  # left mapped back
        orders.add(shown)
    assert orders == {"ab", "ba"}  # 12 items: both orders occur


def test_the_right_answer_maps_to_the_other_response(client_for, auditor, team, queue):
    item = QueueItem.objects.get(queue=queue, position=2)
    order = services.shown_order_for(
        seed=queue.seed, reviewer_id=auditor.pk, comparison_id=item.comparison_id
    )
    client_for(auditor).post(item_url(team, queue, 2), {"choice": "second"})
    review = HumanReview.objects.get(comparison=item.comparison, reviewer=auditor)
    assert review.verdict == ("b" if order == "ab" else "a")


def test_two_reviewers_can_see_different_orders_of_the_same_items(auditor, owner, queue):
    items = list(QueueItem.objects.filter(queue=queue).values_list("comparison_id", flat=True))
    mine = [
        services.shown_order_for(seed=queue.seed, reviewer_id=auditor.pk, comparison_id=c)
        for c in items
    ]
    theirs = [
        services.shown_order_for(seed=queue.seed, reviewer_id=owner.pk, comparison_id=c)
        for c in items
    ]
    assert mine != theirs


def test_a_double_submit_is_idempotent(client_for, auditor, team, queue):
    client = client_for(auditor)
    item = QueueItem.objects.get(queue=queue, position=3)
    first = client.post(item_url(team, queue, 3), {"choice": "tie", "note": "first"})
    second = client.post(item_url(team, queue, 3), {"choice": "both_bad", "note": "second"})
    assert first.status_code == second.status_code == 302
    reviews = HumanReview.objects.filter(comparison=item.comparison, reviewer=auditor)
    assert reviews.count() == 1
    assert reviews.get().verdict == "tie" and reviews.get().note == "first"
    item.comparison.refresh_from_db()
    assert item.comparison.review_count == 1 and item.comparison.human_verdict == "tie"


def test_review_submit_called_twice_returns_the_first_review(auditor, queue):
    c = QueueItem.objects.get(queue=queue, position=4).comparison
    r1, created1 = services.review_submit(queue=queue, comparison=c, reviewer=auditor, choice="tie")
    r2, created2 = services.review_submit(
        queue=queue, comparison=c, reviewer=auditor, choice="first"
    )
    assert (created1, created2) == (True, False) and r1.pk == r2.pk


def test_next_arrives_as_an_htmx_fragment_and_progress_advances(client_for, auditor, team, queue):
    client = client_for(auditor)
    client.post(item_url(team, queue, 1), {"choice": "first"})
    response = client.get(
        reverse("review_next", args=[team.slug, queue.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="review-item"') and 'data-position="2"' in body
    assert response["HX-Push-Url"] == item_url(team, queue, 2)
    assert 'id="progress-done">1<' in body
    # Without htmx the same link is a plain redirect to the item page.
    response = client.get(reverse("review_next", args=[team.slug, queue.pk]))
    assert response.status_code == 302 and response["Location"] == item_url(team, queue, 2)


def test_when_the_queue_is_done_next_goes_back_to_the_queue(client_for, auditor, team, queue):
    client = client_for(auditor)
    for item in QueueItem.objects.filter(queue=queue):
        services.review_submit(
            queue=queue, comparison=item.comparison, reviewer=auditor, choice="tie"
        )
    response = client.get(reverse("review_next", args=[team.slug, queue.pk]))
    assert response.status_code == 302 and response["Location"] == reverse(
        "queue_detail", args=[team.slug, queue.pk]
    )
    response = client.get(
        reverse("review_next", args=[team.slug, queue.pk]), HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == reverse("queue_detail", args=[team.slug, queue.pk])


def test_answers_marked_harmful_are_blurred_and_a_harmful_flag_marks_them(
    client_for, auditor, owner, team, queue
):
    harmful = Comparison.objects.get(label_set=queue.label_set, external_id="r5")
    pos = QueueItem.objects.get(queue=queue, comparison=harmful).position
    body = client_for(auditor).get(item_url(team, queue, pos)).content.decode()
    assert body.count("answer-text blurred") == 2
    other = QueueItem.objects.filter(queue=queue).exclude(comparison=harmful).first()
    body = client_for(auditor).get(item_url(team, queue, other.position)).content.decode()
    assert "blurred" not in body.split('id="review-item"')[1].split("</section>")[0]
    client_for(auditor).post(
        item_url(team, queue, other.position), {"choice": "tie", "flag_harmful": "on"}
    )
    other.comparison.refresh_from_db()
    assert other.comparison.flagged_harmful
    body = client_for(owner).get(item_url(team, queue, other.position)).content.decode()
    assert body.count("answer-text blurred") == 2


def test_flags_note_and_time_are_stored(client_for, auditor, team, queue):
    import time

    client_for(auditor).post(
        item_url(team, queue, 5),
        {
            "choice": "both_bad",
            "flag_principle_misapplied": "on",
            "flag_ai_wrong": "on",
            "note": " odd ",
            "rendered_at": str(time.time() - 12),
        },
    )
    review = HumanReview.objects.get(reviewer=auditor)
    assert (
        review.verdict == "both_bad" and review.flag_principle_misapplied and review.flag_ai_wrong
    )
    assert not review.flag_harmful and review.note == "odd"
    assert 11 <= review.seconds_spent <= 60 and review.source == "app"


def test_a_bad_choice_is_refused_and_nothing_is_stored(client_for, auditor, team, queue):
    response = client_for(auditor).post(item_url(team, queue, 1), {"choice": "left"})
    assert response.status_code == 400 and not HumanReview.objects.exists()


def test_an_item_outside_the_queue_is_404(client_for, auditor, team, queue):
    assert client_for(auditor).get(item_url(team, queue, 999)).status_code == 404


# ---- issue 11, problem 6: the review screen by keyboard alone


def test_the_choice_panel_is_one_sticky_block_with_the_keys_on_it(client_for, auditor, team, queue):
    body = client_for(auditor).get(item_url(team, queue, 1)).content.decode()
    panel = body.split('id="choice-panel"')[1].split("</form>")[0]
    for key, choice in (("1", "first"), ("2", "second"), ("3", "tie"), ("4", "both_bad")):
        assert re.search(rf'value="{choice}" data-key="{key}"[^>]*><kbd>{key}</kbd>', panel)
    # The flags are compact toggles with their keys, inside the same panel.
    for key, name in (
        ("h", "flag_harmful"),
        ("m", "flag_principle_misapplied"),
        ("w", "flag_ai_wrong"),
    ):
        assert re.search(
            rf'data-flag-key="{key}"><input type="checkbox" name="{name}"> <kbd>{key}</kbd>', panel
        )
    css = (settings_static() / "css" / "app.css").read_text()
    assert re.search(r"\.choice-panel \{[^}]*position:sticky; bottom:0", css)


def settings_static():
    from django.conf import settings

    return settings.BASE_DIR / "static"


def test_help_is_a_dialog_the_keys_open_in_the_viewport(client_for, auditor, team, queue):
    body = client_for(auditor).get(item_url(team, queue, 1)).content.decode()
    assert '<dialog id="review-help"' in body
    js = (settings_static() / "js" / "review.js").read_text()
    assert "showModal()" in js


def test_the_progress_says_how_many_were_reviewed_and_how_many_by_you(
    client_for, auditor, owner, team, queue
):
    items = list(QueueItem.objects.filter(queue=queue).order_by("position"))
    for it in items[:2]:
        services.review_submit(queue=queue, comparison=it.comparison, reviewer=owner, choice="tie")
    services.review_submit(
        queue=queue, comparison=items[2].comparison, reviewer=auditor, choice="tie"
    )
    body = client_for(auditor).get(item_url(team, queue, 4)).content.decode()
    text = re.sub(r"<[^>]+>", "", body.split('id="progress-text">')[1].split("</strong>")[0])
    assert text == f"3 / {len(items)} reviewed, 1 by you"


def test_the_queue_page_marks_the_items_you_reviewed(client_for, auditor, owner, team, queue):
    items = list(QueueItem.objects.filter(queue=queue).order_by("position"))
    services.review_submit(
        queue=queue, comparison=items[0].comparison, reviewer=auditor, choice="tie"
    )
    services.review_submit(
        queue=queue, comparison=items[1].comparison, reviewer=owner, choice="tie"
    )
    body = (
        client_for(auditor)
        .get(reverse("queue_detail", args=[team.slug, queue.pk]))
        .content.decode()
    )
    rows = re.findall(r'<tr class="([^"]*)" data-position="(\d+)">(.*?)</tr>', body, re.S)
    marks = {int(pos): (cls, "by you" in cells, "by others" in cells) for cls, pos, cells in rows}
    assert marks[1] == ("mine", True, False)
    assert marks[2] == ("", False, True)
    assert marks[3] == ("", False, False)
    assert f"2 / {len(items)} reviewed, 1 by you." in body
