"""Issue 11, problem 7: the label-set page lists its comparisons in a filterable,
keyset-paged table, each linking to a read-only page with both orders' verdicts and
probabilities and every human judgment."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from labelling import comparisons, services
from labelling.models import Comparison, QueueItem

from .labelling_fixtures import HAND_ROWS

pytestmark = pytest.mark.django_db


def _ids(body: str) -> list[str]:
    table = body.split('<section id="comparisons">')[1].split("</section>")[0]
    return re.findall(r'<a href="/t/[^"]+/comparisons/\d+/[^"]*">([^<]+)</a>', table)


def _get(client, team, label_set, **params):
    return client.get(reverse("labelset_detail", args=[team.slug, label_set.pk]), params)


def test_the_label_set_page_lists_its_comparisons(client_for, viewer, team, hand_set):
    body = _get(client_for(viewer), team, hand_set).content.decode()
    assert _ids(body) == [row[0] for row in HAND_ROWS]
    assert 'id="comparison-filters"' in body and "8 comparisons" in body
    # The set's final-label rule says what it means where it stands (hover).
    from django.utils.html import escape

    from labelling.explanations import explain

    assert f'title="{escape(explain("rule_" + hand_set.rule))}"' in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"consistency": "inconsistent"}, ["h3", "h4", "h5"]),
        ({"consistency": "no_verdict"}, ["h7"]),
        ({"margin": "0.1"}, ["h3", "h4", "h5", "h6"]),  # debiased P(a) .55, .45, .5, .5
        ({"principle": "honesty"}, ["h4", "h5", "h6"]),
        ({"category": "safety"}, ["h1", "h2", "h3"]),
        ({"q": "answer b of h2"}, ["h2"]),
        # final "tie" (the swap rule on an inconsistent pair) vs gold a / b / a; h7 has
        # no AI verdict, so it neither agrees nor disagrees.
        ({"disagree": "gold"}, ["h3", "h4", "h5"]),
        ({"disagree": "audit"}, []),
        ({"consistency": "inconsistent", "principle": "harm"}, ["h3"]),
    ],
)
def test_each_filter_narrows_the_table(client_for, viewer, team, hand_set, params, expected):
    response = _get(client_for(viewer), team, hand_set, **params)
    assert response.status_code == 200
    assert _ids(response.content.decode()) == expected


def test_reviewed_or_not_follows_the_in_app_reviews(client_for, auditor, team, hand_set):
    queue = services.queue_create(
        label_set=hand_set, user=auditor, strategy="uniform", sample_size=8, seed=3
    )
    first = QueueItem.objects.get(queue=queue, position=1).comparison
    services.review_submit(queue=queue, comparison=first, reviewer=auditor, choice="tie")
    client = client_for(auditor)
    assert _ids(_get(client, team, hand_set, reviewed="yes").content.decode()) == [
        first.external_id
    ]
    assert first.external_id not in _ids(
        _get(client, team, hand_set, reviewed="no").content.decode()
    )


def test_pages_follow_the_id_without_counting_the_set(team, hand_set):
    f = comparisons.ComparisonFilters()
    page1 = comparisons.comparison_page(hand_set, f, size=3)
    assert [r.comparison.external_id for r in page1.rows] == ["h1", "h2", "h3"]
    assert page1.first_page and page1.prev_before is None and page1.matching is None
    page2 = comparisons.comparison_page(hand_set, f, after=page1.next_after, size=3)
    assert [r.comparison.external_id for r in page2.rows] == ["h4", "h5", "h6"]
    page3 = comparisons.comparison_page(hand_set, f, after=page2.next_after, size=3)
    assert [r.comparison.external_id for r in page3.rows] == ["h7", "h8"]
    assert page3.next_after is None
    back = comparisons.comparison_page(hand_set, f, before=page3.prev_before, size=3)
    assert [r.comparison.external_id for r in back.rows] == ["h4", "h5", "h6"]
    assert not back.first_page
    filtered = comparisons.comparison_page(
        hand_set, comparisons.ComparisonFilters(consistency="inconsistent"), size=2
    )
    assert filtered.matching == 3 and not filtered.capped


def test_the_next_link_keeps_the_filters_and_htmx_gets_only_the_table(
    client_for, viewer, team, hand_set, monkeypatch
):
    monkeypatch.setattr(comparisons, "PAGE_SIZE", 2)
    client = client_for(viewer)
    body = _get(client, team, hand_set, principle="honesty").content.decode()
    assert _ids(body) == ["h4", "h5"]
    link = re.search(r'id="next-page" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    assert "principle=honesty" in link and "after=" in link
    response = client.get(link, HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert "<html" not in fragment and 'id="approval"' not in fragment
    assert _ids(fragment) == ["h6"]
    assert response["Vary"].count("HX-Request") == 1


def test_a_bad_filter_is_a_400_naming_it(client_for, viewer, team, hand_set):
    response = _get(client_for(viewer), team, hand_set, consistency="sometimes")
    assert response.status_code == 400
    assert "consistency: Select a valid choice" in response.content.decode()


def test_the_comparison_page_shows_both_orders_and_every_human_label(
    client_for, viewer, auditor, team, hand_set
):
    c = Comparison.objects.get(label_set=hand_set, external_id="h4")
    queue = services.queue_create(
        label_set=hand_set, user=auditor, strategy="uniform", sample_size=8, seed=3
    )
    services.review_submit(queue=queue, comparison=c, reviewer=auditor, choice="tie", note="hmm")
    url = reverse("comparison_detail", args=[team.slug, hand_set.pk, c.pk])
    body = client_for(viewer).get(url).content.decode()
    labels = body.split('id="ai-labels"')[1].split("</table>")[0]
    # h4: order AB says a with P(a) .6, order BA says b with P(a) .3; debiased .45.
    assert "0.600" in labels and "0.300" in labels and "0.450" in labels and "0.550" in labels
    assert "inconsistent, leaned" in labels
    humans = body.split('id="human-verdicts"')[1].split("</dl>")[0]
    assert "imported: b" in humans and "1 review" in humans
    assert "hmm" in body.split('id="audit-reviews"')[1]
    assert c.response_a in body and c.response_b in body
    # Only this team's comparisons of this set.
    other = Comparison.objects.exclude(label_set=hand_set).first()
    if other is not None:
        wrong = reverse("comparison_detail", args=[team.slug, hand_set.pk, other.pk])
        assert client_for(viewer).get(wrong).status_code == 404
    assert (
        client_for(viewer)
        .get(reverse("comparison_detail", args=[team.slug, hand_set.pk, 10**9]))
        .status_code
        == 404
    )
