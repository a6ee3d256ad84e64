"""The labeller-calibration kind on the tiny random Llama: gold pairs from the CAI paper's
eval files, both orders, figures from the audit's statistics, redelivery, refusals, the
launch page, and the judge model's page listing the calibration."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labelling import formats
from labelling import services as labelling
from labelling.models import AILabel
from tests.conftest import shared_data_dir
from tests.training import kind_fixtures
from tests.training.kind_fixtures import execute, start
from training import services, shards
from training.engine.labeller import build_comparison_messages
from training.kinds import calibration
from training.models import RunStatus

artifacts = kind_fixtures.artifacts
version = kind_fixtures.version
tiny = kind_fixtures.tiny

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_data")]

EVALS = shared_data_dir() / "cai-paper-evals"


def _short(path_name: str, n: int) -> list[formats.LabelRecord]:
    """The file's ``n`` shortest records (the tiny model's context is small)."""
    records = formats.import_cai_paper((EVALS / path_name).read_bytes())
    size = lambda r: len(r.prompt) + len(r.response_a) + len(r.response_b)  # noqa: E731
    return sorted(records, key=size)[:n]


@pytest.fixture
def gold(team, author):
    records = _short("438HHHEvaluations.jsonl", 5) + _short("HarmfulVsEthical.jsonl", 2)
    return labelling.labelset_create_from_pairs(
        team=team, user=author, name="CAI gold (7)", records=records
    )


def _run(team, author, gold, tiny, version, **config):
    return start(
        "calibration",
        team=team,
        user=author,
        label_set=gold,
        judge=tiny,
        version=version,
        config={"seed": 3, "batch_size": 2, **config},
        shard_size=4,
    )


def test_a_calibration_run_labels_every_gold_pair_in_both_orders_and_reports_the_audit_figures(
    team, author, gold, tiny, version, artifacts
) -> None:
    run = _run(team, author, gold, tiny, version, pair_limit=6)
    assert run.shards.count() == 2 and run.total_units == 6
    label = run.result["judge_label"]
    assert label == f"tiny · calibration #{run.pk}"
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    labels = AILabel.objects.filter(label_set=gold, judge=label)
    assert labels.count() == 6
    assert all(x.p_a_ab is not None and x.p_a_ba is not None for x in labels)
    assert set(labels.values_list("gold_verdict", flat=True)) <= {"a", "b"}
    figures = run.result["calibration"]
    assert figures["n"] == 6 and figures["consistency"]["n"] == 6
    right = sum(
        1
        for x in labels
        if x.p_debiased != 0.5 and ("a" if x.p_debiased > 0.5 else "b") == x.gold_verdict
    )
    assert figures["accuracy"]["k"] == right
    assert figures["accuracy"]["n"] == sum(1 for x in labels if x.p_debiased != 0.5)
    lo, hi = figures["accuracy"]["ci_low"], figures["accuracy"]["ci_high"]
    assert 0.0 <= lo <= figures["accuracy"]["rate"] <= hi <= 1.0
    consistent = sum(1 for x in labels if x.consistent)
    assert figures["consistency"]["k"] == consistent
    assert sum(b["n"] for b in figures["bins"]) == figures["accuracy"]["n"]
    assert [c.id for c in calibration.charts(run)] == [
        "calibration-accuracy",
        "calibration-reliability",
    ]


def test_a_redelivered_shard_adds_no_label_and_a_second_run_keeps_its_own_judge_name(
    team, author, gold, tiny, version, artifacts
) -> None:
    run = execute(_run(team, author, gold, tiny, version))
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert AILabel.objects.filter(label_set=gold).count() == 7
    shard = run.shards.first()
    shard.__class__.objects.filter(pk=shard.pk).update(status=RunStatus.QUEUED)
    shards.shard_execute(shard.pk, worker="again")
    assert AILabel.objects.filter(label_set=gold).count() == 7
    second = execute(_run(team, author, gold, tiny, version, k_principles=2))
    assert AILabel.objects.filter(label_set=gold).count() == 14
    assert second.result["judge_label"] != run.result["judge_label"]


def test_a_pair_with_its_own_question_is_asked_that_question() -> None:
    (message,) = build_comparison_messages("Human: hi", "harmful", "ethical", None, "Which one?")
    assert "Question: Which one?" in message["content"]
    (plain,) = build_comparison_messages("Human: hi", "x", "y", None)
    assert "Question: Which one?" not in plain["content"]


def test_a_set_without_gold_labels_or_too_large_a_limit_is_refused_naming_the_field(
    team, author, gold, tiny, version
) -> None:
    plain = labelling.labelset_create_from_pairs(
        team=team,
        user=author,
        name="no gold",
        records=[formats.LabelRecord("x", "p", "a", "b", "j", "a", "a")],
    )
    with pytest.raises(services.TrainingError, match="has no gold labels") as caught:
        _run(team, author, plain, tiny, version)
    assert caught.value.field == "label_set"
    with pytest.raises(services.TrainingError, match="holds only 7") as caught:
        _run(team, author, gold, tiny, version, pair_limit=8)
    assert caught.value.field == "pair_limit"
    with pytest.raises(services.TrainingError, match="mode: must be one of"):
        _run(team, author, gold, tiny, version, mode="vibes")


def test_the_launch_page_offers_only_gold_sets(client_for, team, author, gold, tiny, version):
    response = client_for(author).get(reverse("run_launch", args=[team.slug, "calibration"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "CAI gold (7)" in body and "First N gold pairs only" in body


def test_the_judge_page_lists_its_calibration_and_the_run_page_links_it(
    client_for, team, author, viewer, gold, tiny, version, artifacts
) -> None:
    run = execute(_run(team, author, gold, tiny, version, pair_limit=4))
    page = client_for(viewer).get(reverse("model_detail", args=[team.slug, tiny.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="calibrations"' in body and f"#{run.pk}" in body
    acc = run.result["calibration"]["accuracy"]
    assert f"{acc['rate'] * 100:.2f}%" in body
    assert "calibration-history-chart" in body and "<svg" in body
    assert "Not trained here" in body
    detail = client_for(viewer).get(reverse("run_detail", args=[team.slug, run.pk])).content
    text = detail.decode()
    assert reverse("model_detail", args=[team.slug, tiny.pk]) in text
    assert 'id="calibration-figures"' in text and "calibration-reliability-chart" in text
    stats = client_for(viewer).get(
        reverse("labelset_stats", args=[team.slug, gold.pk]),
        {"judge": run.result["judge_label"]},
    )
    assert stats.status_code == 200 and 'id="n-labels">4<' in stats.content.decode()


def test_a_trained_model_page_names_the_run_and_what_it_trained_on(
    client_for, team, viewer, author, tiny, version, artifacts
) -> None:
    prompt_set = services.promptset_import(
        team=team, user=author, name="p", data=b"a\nb\nc\nd", filename="p.txt"
    )
    cr = start(
        "critique_revision",
        team=team,
        user=author,
        version=version,
        prompt_set=prompt_set,
        model=tiny,
    )
    from training.models import ModelEntry, Run

    Run.objects.filter(pk=cr.pk).update(status=RunStatus.SUCCEEDED)
    made = ModelEntry.objects.create(team=team, name="trained", path=tiny.path, source_run=cr)
    body = client_for(viewer).get(reverse("model_detail", args=[team.slug, made.pk])).content
    text = body.decode()
    assert reverse("run_detail", args=[team.slug, cr.pk]) in text
    assert "Prompt set: p" in text and reverse("lineage", args=[team.slug, version.pk]) in text
    assert "No run has used it yet." in text
    listing = client_for(viewer).get(reverse("model_list", args=[team.slug])).content.decode()
    assert reverse("model_detail", args=[team.slug, made.pk]) in listing


class Recording:
    """The tiny model's own backend, passed every call, noting what the labeller asked."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.spec = inner.spec
        self.generated: list = []
        self.params: list = []
        self.scored: list = []

    def generate(self, requests, params):
        self.generated += list(requests)
        self.params.append(params)
        return self.inner.generate(requests, params)

    def score_choices(self, requests, choices):
        self.scored += list(requests)
        return self.inner.score_choices(requests, choices)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()


def test_a_cot_calibration_run_reasons_before_each_verdict_and_stores_clamped_figures(
    client_for, team, author, viewer, gold, tiny, version, artifacts, monkeypatch
) -> None:
    from training import worker_models
    from training.engine import backends
    from training.engine.labeller import COT_FOLLOW_UP, COT_INSTRUCTION

    real, loads = backends.load_backend, []

    def load(spec):
        loads.append(Recording(real(spec)))
        return loads[-1]

    worker_models.backend_cache_clear()
    monkeypatch.setattr(backends, "load_backend", load)
    run = _run(
        team,
        author,
        gold,
        tiny,
        version,
        mode="cot",
        cot_clamp_low=0.45,
        cot_clamp_high=0.55,
        pair_limit=5,
    )
    config = run.config_object()
    assert (config.mode, config.cot_clamp_low, config.cot_clamp_high) == ("cot", 0.45, 0.55)
    assert run.shards.count() == 2 and run.total_units == 5
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error

    (judge,) = loads  # the tiny judge, loaded once for both shards
    # CoT: each pair in each order is first asked for a reasoning (greedy, the run's
    # seed), then scored with that reasoning as the judge's turn and the follow-up.
    assert len(judge.generated) == len(judge.scored) == 5 * 2
    assert all(COT_INSTRUCTION in r.messages[-1]["content"] for r in judge.generated)
    assert {(p.temperature, p.seed) for p in judge.params} == {(0.0, 3)}
    for asked, scored in zip(judge.generated, judge.scored, strict=True):
        assert [m["role"] for m in scored.messages] == ["user", "assistant", "user"]
        assert scored.messages[0] == asked.messages[0]
        assert scored.messages[-1]["content"] == COT_FOLLOW_UP

    labels = AILabel.objects.filter(label_set=gold, judge=run.result["judge_label"])
    assert labels.count() == 5
    for x in labels:  # clamped into the run's [0.45, 0.55], whatever the model said
        assert 0.45 - 1e-9 <= x.p_a_ab <= 0.55 + 1e-9
        assert 0.45 - 1e-9 <= x.p_a_ba <= 0.55 + 1e-9
    figures = run.result["calibration"]
    assert figures["n"] == 5 and figures["consistency"]["n"] == 5
    judged = [x for x in labels if x.p_debiased != 0.5]
    assert figures["accuracy"]["n"] == len(judged)
    assert sum(b["n"] for b in figures["bins"]) == len(judged)
    assert all(0.5 <= b["mean_confidence"] <= 0.55 + 1e-9 for b in figures["bins"])
    page = client_for(viewer).get(reverse("model_detail", args=[team.slug, tiny.pk]))
    assert "cot, k = 1" in page.content.decode()
    worker_models.backend_cache_clear()
