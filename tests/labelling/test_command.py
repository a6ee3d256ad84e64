"""``manage.py labelstats`` prints the figures of the statistics page."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from labelling import selectors

from .labelling_fixtures import ids

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("labelstats", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_it_prints_the_same_figures_as_the_page(client_for, viewer, team, hand_set):
    text = run(hand_set.pk)
    html = (
        client_for(viewer)
        .get(reverse("labelset_stats", args=[team.slug, hand_set.pk]))
        .content.decode()
    )
    for element in (
        "pb-consistency",
        "pb-first",
        "pb-second",
        "pb-error",
        "agree-ab",
        "agree-ba",
        "agree-debiased",
        "agree-accuracy",
    ):
        assert ids(html, element) in text, element
    assert "consistent             50.00%" in text
    assert "(4 / 8)" in text and "(10 / 14)" in text
    assert "binomial test          p = 1 (2 first-slot of 3 inconsistent)" in text


def test_it_breaks_down_by_principle(hand_set):
    text = run(hand_set.pk, "--by", "principle")
    assert (
        "By principle" in text
        and "harm: n = 3; consistent 66.67%" in text
        and "(none): n = 2" in text
    )


def test_json_output_matches_the_selector(hand_set):
    data = json.loads(run(hand_set.pk, "--json"))
    s = selectors.labelset_statistics(hand_set)
    assert data["agreements"]["debiased"] == json.loads(
        json.dumps(s.agreements["debiased"].as_dict())
    )
    assert data["position_bias"]["consistency"]["k"] == 4


def test_an_unknown_label_set_is_an_error():
    with pytest.raises(CommandError, match="No label set with id 999"):
        run(999)


def test_seed_demo_imports_the_llmbar_demo_set(shared_data):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    from labelling.demo import DEMO_NAME
    from labelling.models import LabelSet

    label_set = LabelSet.objects.get(name=DEMO_NAME)
    assert label_set.comparison_count == 200 and label_set.ai_label_count == 200
    assert "labelling: imported 200 comparisons" in out.getvalue()
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    assert LabelSet.objects.filter(name=DEMO_NAME).count() == 1


def test_seed_demo_skips_the_demo_set_without_the_data(settings, tmp_path):
    settings.SHARED_DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "no demo label set" in out.getvalue()
