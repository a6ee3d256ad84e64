"""The statistics page shows exactly the figures of labelling.stats, on hand-made and public data."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labelling import formats, selectors, services, stats
from labelling.templatetags.labelling_tags import (
    fmt_kappa_ci,
    fmt_num,
    fmt_pct,
    kappa_interval_name,
)

from .jobs import run_job
from .labelling_fixtures import JUDGE, assert_same, assert_same_bias, hand_pairs, ids

pytestmark = pytest.mark.django_db


def stats_page(client, team, label_set, **params) -> str:
    url = reverse("labelset_stats", args=[team.slug, label_set.pk])
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_position_bias_matches_the_hand_computed_figures(client_for, viewer, team, hand_set):
    html = stats_page(client_for(viewer), team, hand_set)
    # 8 pairs: 4 consistent (incl. one tie pair), 2 first, 1 second, 1 missing verdict.
    assert ids(html, "pb-consistency") == "50.00%"
    assert ids(html, "pb-first") == "25.00%"
    assert ids(html, "pb-second") == "12.50%"
    assert ids(html, "pb-error") == "12.50%"
    assert "4 / 8" in html and "2 / 8" in html and "1 / 8" in html
    # Binomial test of 2 first-slot picks among 3 inconsistent pairs: two-sided p = 1.
    assert ids(html, "pb-binomial") == "p = 1"
    assert ">2 / 3<" in html


def test_agreement_shows_what_the_swap_buys_for_each_source(client_for, viewer, team, hand_set):
    html = stats_page(client_for(viewer), team, hand_set)
    # Of the 7 pairs with a human label: AB right 4, BA right 6, debiased (agree rule) 3.
    assert ids(html, "agree-ab") == "57.14%"
    assert ids(html, "agree-ba") == "85.71%"
    assert ids(html, "agree-debiased") == "42.86%"
    assert ids(html, "agree-accuracy") == "71.43%"  # (4 + 6) / 14, LLMBar's Acc.
    assert "4 / 7" in html and "6 / 7" in html and "3 / 7" in html and "10 / 14" in html


def test_every_figure_on_the_page_equals_the_statistics_module(client_for, viewer, team, hand_set):
    html = stats_page(client_for(viewer), team, hand_set)
    pairs = hand_pairs()
    pb = stats.position_bias(pairs)
    assert ids(html, "pb-mean-p-first") == fmt_num(pb.mean_p_first)
    assert ids(html, "pb-agreement") == fmt_pct(pb.positional_agreement.rate)
    for source in ("ab", "ba", "debiased"):
        a = stats.agreement(pairs, source)
        assert ids(html, f"agree-{source}") == fmt_pct(a.percent.rate)
        kappa = f'{fmt_num(a.kappa.kappa)}</td><td class="num kappa-ci" title="{kappa_interval_name(a.kappa)}">{fmt_kappa_ci(a.kappa)}<'
        assert kappa in html
    # The selector's SQL aggregation gives the very same dataclasses.
    s = selectors.labelset_statistics(hand_set)
    assert_same_bias(s.position_bias, pb)
    for src in ("ab", "ba", "debiased"):
        assert_same(s.agreements[src], stats.agreement(pairs, src))
    assert s.calibration == stats.calibration(pairs)
    assert "<svg" in html and "Reliability" in html


def test_slicing_by_principle_and_filtering_by_principle_agree(client_for, viewer, team, hand_set):
    pairs = hand_pairs()
    by = stats.slice_by(pairs, "principle")
    s = selectors.labelset_statistics(hand_set, by="principle")
    assert {row.value for row in s.slices} == set(by)
    for row in s.slices:
        assert_same_bias(row.position_bias, stats.position_bias(by[row.value]))
        assert_same(row.agreement, stats.agreement(by[row.value], "debiased"))
    html = stats_page(client_for(viewer), team, hand_set, principle="harm")
    assert ids(html, "pb-consistency") == "66.67%"  # h1, h2 consistent; h3 biased first
    filtered = selectors.labelset_statistics(hand_set, selectors.Filters(category="truth"))
    assert_same_bias(
        filtered.position_bias, stats.position_bias(stats.slice_by(pairs, "category")["truth"])
    )
    html = stats_page(client_for(viewer), team, hand_set, by="judge")
    assert 'id="slices"' in html and JUDGE in html


def test_htmx_filter_gets_only_the_statistics_fragment(client_for, viewer, team, hand_set):
    url = reverse("labelset_stats", args=[team.slug, hand_set.pk])
    response = client_for(viewer).get(url, {"principle": "honesty"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="stats">') and "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_calibration_bins_and_chart_match_the_module(client_for, viewer, team, hand_set):
    bins = [b for b in stats.calibration(hand_pairs()) if b.n]
    html = stats_page(client_for(viewer), team, hand_set)
    for b in bins:
        assert f"{b.k} / {b.n}" in html
    assert sum(b.n for b in bins) == 4  # h1, h2, h3, h4 (h5, h6 sit at exactly 0.5)


@pytest.fixture
def mt_bench(shared_data) -> bytes:
    return (shared_data / "judge-eval" / "llmbar-mt-bench" / "GPT-4" / "result.json").read_bytes()


def test_public_llmbar_figures_through_the_import_view_match_the_published_ones(
    client_for, author, viewer, team, mt_bench
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(author).post(
        reverse("labelset_import", args=[team.slug]),
        {
            "name": "MT-Bench GPT-4",
            "fmt": "llmbar",
            "judge": "GPT-4",
            "dataset_name": "mt-bench",
            "file": SimpleUploadedFile("result.json", mt_bench),
        },
    )
    assert run_job(response).status == "done"
    label_set = team.label_sets.get(name="MT-Bench GPT-4")
    html = stats_page(client_for(viewer), team, label_set)
    # LLMBar statistics.json (Vanilla_NoRules, GPT-4, MT-Bench): Acc. 81.0, Agr. 87.0.
    assert ids(html, "agree-accuracy") == "81.00%"
    assert ids(html, "pb-agreement") == "87.00%"
    assert "324 / 400" in html and "174 / 200" in html
    pairs = [r.to_pair_judgement() for r in formats.import_llmbar(mt_bench, "GPT-4", "mt-bench")]
    pb = stats.position_bias(pairs)
    assert ids(html, "pb-consistency") == fmt_pct(pb.consistency.rate)
    assert ids(html, "pb-first") == fmt_pct(pb.biased_first.rate)
    assert ids(html, "pb-second") == fmt_pct(pb.biased_second.rate)


def test_pandalm_annotator_agreement_on_the_page_matches_the_published_kappas(
    client_for, viewer, team, author, shared_data
):
    data = (shared_data / "judge-eval" / "pandalm-testset-v1.json").read_bytes()
    label_set = services.labelset_import(
        team=team, user=author, name="PandaLM", fmt="pandalm", data=data
    )
    assert label_set.ai_label_count == 0 and label_set.comparison_count == 999
    html = stats_page(client_for(viewer), team, label_set)
    # WeOpenML/PandaLM README: Cohen's kappa 0.85 (#1-#2), 0.88 (#1-#3), 0.86 (#2-#3).
    ha = stats.human_agreement(formats.human_reviews(formats.import_pandalm(data)))
    for pair, published in zip(ha.pairwise, ("0.85", "0.88", "0.86"), strict=True):
        assert f"{pair.kappa.kappa:.2f}" == published
        assert f">{fmt_num(pair.kappa.kappa)}</td>" in html
    assert ids(html, "hh-fleiss") == fmt_num(ha.fleiss_kappa)
    assert ids(html, "hh-alpha") == fmt_num(ha.krippendorff_alpha)
    assert "999 items" in html
