"""The run pages of every kind as each member of the cast sees them: one launch page
per kind, the run page (live charts, 286 when over, cost line, override), the lineage
page, and ``run_start`` from the shell. Nothing trains here (runs are created with
enqueue=False and their metrics written by hand); the kinds' work is tested in
tests/training/kinds/."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from labelling.models import LabelSet
from labelling.services import (
    AILabelInput,
    ComparisonInput,
    ailabel_bulk_create,
    comparison_bulk_create,
    labelset_create,
)
from tests.factories import published_demo_version
from tests.training import run_fixtures
from tests.training.kind_fixtures import start
from tests.training.run_fixtures import PROMPTS, cr_start, small_config
from training import services
from training.artifacts import run_dir
from training.kinds.registry import kinds
from training.models import ModelEntry, Run, RunMetric, RunStatus

fake_llm = run_fixtures.fake_llm
fake_model_dir = run_fixtures.fake_model_dir

READ_ROLES = ("owner", "author", "auditor", "viewer")
LAUNCH_ROLES = ("owner", "author")

pytestmark = pytest.mark.django_db


def _label_set(team, user, name="pilot labels", n=4):
    label_set = labelset_create(team=team, user=user, name=name, source_kind="import")
    comparison_bulk_create(
        label_set=label_set,
        comparisons=[
            ComparisonInput(f"c{i}", f"prompt {i}", f"safe {i}", f"unsafe {i}") for i in range(n)
        ],
    )
    ailabel_bulk_create(
        label_set=label_set,
        labels=[AILabelInput(f"c{i}", "judge", "a", "a", 0.8, 0.7) for i in range(n)],
    )
    label_set.refresh_from_db()
    return label_set


@pytest.fixture
def setup(cast, team, author, fake_model_dir, settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    version = published_demo_version(team, author)
    prompt_set = services.promptset_import(
        team=team,
        user=author,
        name="locks",
        data="\n".join(PROMPTS).encode(),
        filename="p.txt",
        held_out_fraction=0.2,
    )
    model = services.model_register(team=team, user=author, name="fake", path=str(fake_model_dir))
    cr = cr_start(
        team=team,
        user=author,
        version=version,
        prompt_set=prompt_set,
        model=model,
        config=small_config(),
        prompt_selection="all",
        enqueue=False,
    )
    Run.objects.filter(pk=cr.pk).update(status=RunStatus.SUCCEEDED)
    cr.refresh_from_db()
    sft = start(
        "sft",
        team=team,
        user=author,
        source_run=cr,
        model=model,
        config={"train": {"max_steps": 5}},
    )
    final = run_dir(sft) / "train" / "final"
    final.mkdir(parents=True)
    (final / "config.json").write_text("{}")
    sft_model = services.model_register(
        team=team, user=author, name="sft out", path=str(final), source_run=sft
    )
    Run.objects.filter(pk=sft.pk).update(status=RunStatus.SUCCEEDED, gpu_seconds=12.5, device="cpu")
    labelling = start(
        "labelling",
        team=team,
        user=author,
        prompt_set=prompt_set,
        policy=sft_model,
        judge=model,
        version=version,
        config={"max_new_tokens": 4},
    )
    out = labelling.output_label_set
    comparison_bulk_create(
        label_set=out, comparisons=[ComparisonInput("x", "p", "a", "b", principle_key="k")]
    )
    ailabel_bulk_create(label_set=out, labels=[AILabelInput("x", "fake", "a", "b", 0.9, 0.2)])
    Run.objects.filter(pk=labelling.pk).update(
        status=RunStatus.SUCCEEDED,
        gpu_seconds=36.0,
        device="cpu",
        result={"labels": 1000},
        examples_done=1000,
    )
    out.refresh_from_db()
    dpo = start(
        "dpo",
        team=team,
        user=author,
        label_set=out,
        model=sft_model,
        config={
            "train": {"max_steps": 4},
            "override_reason": "pilot before the audit",
            # Its one AI label is position-inconsistent: above the team's threshold.
            "confirm_inconsistent": True,
        },
    )
    RunMetric.objects.bulk_create(
        [
            RunMetric(run=dpo, step=s, name=n, value=v)
            for s in (1, 2, 3)
            for n, v in (("loss", 0.7 - 0.1 * s), ("rewards/margins", 0.05 * s - 0.05))
        ]
    )
    Run.objects.filter(pk=dpo.pk).update(status=RunStatus.RUNNING, done_units=3)
    evaluation = start(
        "evaluation",
        team=team,
        user=author,
        policy=sft_model,
        base=model,
        judge=model,
        version=version,
        prompt_set=prompt_set,
    )
    Run.objects.filter(pk=evaluation.pk).update(
        status=RunStatus.SUCCEEDED,
        result={
            "n_pairs": 2,
            "wins": 1,
            "losses": 1,
            "ties": 0,
            "win_rate": 0.5,
            "ci_low": 0.09,
            "ci_high": 0.91,
            "position_consistency": 1.0,
            "refusal_rate_policy": 0.1,
            "refusal_rate_base": 0.05,
            "n_benign": 20,
            "examples": [],
        },
    )
    return {
        "team": team,
        "version": version,
        "prompt_set": prompt_set,
        "model": model,
        "cr": cr,
        "sft": sft,
        "sft_model": sft_model,
        "labelling": labelling,
        "dpo": dpo,
        "evaluation": evaluation,
    }


def _read_urls(s) -> list[str]:
    slug = s["team"].slug
    urls = [
        reverse("run_detail", args=[slug, s[k].pk])
        for k in ("sft", "labelling", "dpo", "evaluation")
    ]
    urls.append(reverse("lineage", args=[slug, s["version"].pk]))
    urls.append(reverse("run_list", args=[slug]))
    return urls


@pytest.mark.parametrize("role", READ_ROLES)
def test_members_read_every_stage_page(setup, cast, client_for, role) -> None:
    client = client_for(cast[role])
    for url in _read_urls(setup):
        assert client.get(url).status_code == 200, url


def test_outsiders_get_404_on_every_stage_url(setup, cast, client_for) -> None:
    client = client_for(cast["outsider"])
    slug = setup["team"].slug
    urls = _read_urls(setup) + [reverse("run_launch", args=[slug, k]) for k in kinds()]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("run_launch", args=[slug, "dpo"]), {}).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(setup, client_for) -> None:
    response = client_for(None).get(
        reverse("lineage", args=[setup["team"].slug, setup["version"].pk])
    )
    assert response.status_code in (302, 404)


@pytest.mark.parametrize("role", ("auditor", "viewer"))
def test_members_who_cannot_launch_get_403_and_no_forms(setup, cast, client_for, role) -> None:
    client = client_for(cast[role])
    slug = setup["team"].slug
    assert client.post(reverse("run_launch", args=[slug, "dpo"]), {}).status_code == 403
    assert client.get(reverse("run_launch", args=[slug, "sft"])).status_code == 403
    assert 'id="launch"' not in client.get(reverse("run_list", args=[slug])).content.decode()


@pytest.mark.parametrize("role", LAUNCH_ROLES)
def test_launchers_find_one_launch_page_per_kind_on_the_runs_page(
    setup, cast, client_for, role
) -> None:
    client = client_for(cast[role])
    body = client.get(reverse("run_list", args=[setup["team"].slug])).content.decode()
    for kind in kinds():
        assert f'id="launch-{kind}"' in body
        assert reverse("run_launch", args=[setup["team"].slug, kind]) in body
    sft_page = client.get(reverse("run_launch", args=[setup["team"].slug, "sft"])).content.decode()
    # Only succeeded critique-revision runs are offered to SFT.
    assert f'value="{setup["cr"].pk}"' in sft_page


def test_an_unknown_kind_has_no_launch_page(setup, cast, client_for) -> None:
    url = reverse("run_launch", args=[setup["team"].slug, "ppo"])
    assert client_for(cast["author"]).get(url).status_code == 404


def _dpo_post(setup, label_set, **extra):
    data = {
        "dpo-label_set": label_set.pk,
        "dpo-model": setup["sft_model"].pk,
        "dpo-max_steps": 4,
        "dpo-learning_rate": 5e-7,
        "dpo-per_device_batch_size": 2,
        "dpo-max_length": 256,
        "dpo-seed": 0,
        "dpo-threshold": 0.5,
        "dpo-beta": 0.1,
        "dpo-label_smoothing": 0.0,
    }
    data.update({f"dpo-{k}": v for k, v in extra.items()})
    return data


def test_launching_dpo_on_an_unapproved_set_is_refused_without_a_reason(
    setup, cast, client_for, django_capture_on_commit_callbacks
) -> None:
    label_set = _label_set(setup["team"], cast["author"])
    client = client_for(cast["author"])
    url = reverse("run_launch", args=[setup["team"].slug, "dpo"])
    before = Run.objects.count()
    response = client.post(url, _dpo_post(setup, label_set))
    assert response.status_code == 400
    assert "not approved" in response.content.decode()
    assert Run.objects.count() == before
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, _dpo_post(setup, label_set, override_reason="pilot"))
    assert response.status_code == 302
    run = Run.objects.latest("pk")
    assert run.kind == "dpo" and run.override_reason == "pilot"
    assert len(callbacks) == 1  # one task on the gpu queue, after commit
    assert response["Location"] == reverse("run_detail", args=[setup["team"].slug, run.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'id="override"' in page and "pilot" in page


def test_launching_dpo_on_an_approved_set_needs_no_reason(setup, cast, client_for) -> None:
    label_set = _label_set(setup["team"], cast["author"])
    LabelSet.objects.filter(pk=label_set.pk).update(status="approved")
    response = client_for(cast["author"]).post(
        reverse("run_launch", args=[setup["team"].slug, "dpo"]), _dpo_post(setup, label_set)
    )
    assert response.status_code == 302
    assert Run.objects.latest("pk").override_reason == ""


def test_each_launch_form_starts_its_kind(setup, cast, client_for) -> None:
    s, slug = setup, setup["team"].slug
    client = client_for(cast["owner"])
    posts = {
        "sft": {
            "source_run": s["cr"].pk,
            "model": s["model"].pk,
            "max_steps": 3,
            "learning_rate": 2e-5,
            "per_device_batch_size": 2,
            "max_length": 256,
            "seed": 0,
        },
        "labelling": {
            "prompt_set": s["prompt_set"].pk,
            "prompt_selection": "train",
            "policy": s["sft_model"].pk,
            "judge": s["model"].pk,
            "version": s["version"].pk,
            "k_principles": 2,
            "mode": "logprob",
            "temperature": 0.8,
            "max_new_tokens": 16,
            "batch_size": 4,
            "seed": 1,
        },
        "reward": {
            "label_set": s["labelling"].output_label_set_id,
            "model": s["model"].pk,
            "max_steps": 3,
            "learning_rate": 1e-5,
            "per_device_batch_size": 2,
            "max_length": 256,
            "seed": 0,
            "threshold": 0.6,
            "eval_fraction": 0.2,
            "override_reason": "try",
            "confirm_inconsistent": "on",  # its one AI label is position-inconsistent
        },
        "evaluation": {
            "policy": s["sft_model"].pk,
            "base": s["model"].pk,
            "judge": s["model"].pk,
            "version": s["version"].pk,
            "prompt_set": s["prompt_set"].pk,
            "max_new_tokens": 16,
            "k_principles": 1,
            "benign_limit": 5,
            "seed": 0,
        },
    }
    for kind, data in posts.items():
        response = client.post(
            reverse("run_launch", args=[slug, kind]), {f"{kind}-{k}": v for k, v in data.items()}
        )
        assert response.status_code == 302, (kind, response.content.decode()[-3000:])
        run = Run.objects.latest("pk")
        assert run.kind == kind and run.shards.count() == 1
    assert Run.objects.get(kind="reward", override_reason="try").config["threshold"] == 0.6


def test_the_run_page_draws_live_charts_and_stops_polling_when_finished(
    setup, cast, client_for
) -> None:
    client = client_for(cast["viewer"])
    url = reverse("run_detail", args=[setup["team"].slug, setup["dpo"].pk])
    page = client.get(url).content.decode()
    assert 'id="loss-chart"' in page and 'id="margin-chart"' in page
    assert 'hx-trigger="every 2s"' in page and "<svg" in page
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert fragment["Vary"] and "HX-Request" in fragment["Vary"]
    Run.objects.filter(pk=setup["dpo"].pk).update(status=RunStatus.SUCCEEDED)
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 286
    assert 'hx-trigger="every 2s"' not in fragment.content.decode()


def test_the_cost_line_shows_cpu_seconds_labels_per_hour_and_the_human_price(
    setup, cast, client_for
) -> None:
    url = reverse("run_detail", args=[setup["team"].slug, setup["labelling"].pk])
    page = client_for(cast["viewer"]).get(url).content.decode()
    # 1,000 labels in 36 CPU-seconds = 100,000 per hour; humans: $50-$500.
    assert "36.0 CPU-seconds (no GPU)" in page
    assert "100,000 labels per CPU-hour" in page
    assert "$50.00–$500.00" in page
    assert 'id="output-label-set"' in page


def test_the_evaluation_page_shows_the_win_rate_interval_and_refusals(setup, cast, client_for):
    url = reverse("run_detail", args=[setup["team"].slug, setup["evaluation"].pk])
    page = client_for(cast["viewer"]).get(url).content.decode()
    assert "50%" in page and "9–91%" in page
    assert "trained 10% · base 5%" in page


def test_the_lineage_page_links_every_node(setup, cast, client_for) -> None:
    s = setup
    page = (
        client_for(cast["viewer"])
        .get(reverse("lineage", args=[s["team"].slug, s["version"].pk]))
        .content.decode()
    )
    for key in ("cr", "sft", "labelling", "dpo", "evaluation"):
        assert reverse("run_detail", args=[s["team"].slug, s[key].pk]) in page, key
    assert (
        reverse("labelset_detail", args=[s["team"].slug, s["labelling"].output_label_set_id])
        in page
    )
    assert "sft out" in page and "not audited yet" in page
    version_page = client_for(cast["viewer"]).get(reverse("version_detail", args=[s["version"].pk]))
    assert (
        reverse("lineage", args=[s["team"].slug, s["version"].pk]) in version_page.content.decode()
    )


def test_another_teams_version_has_no_lineage_here(setup, cast, client_for, other_team) -> None:
    other = published_demo_version(other_team, cast["outsider"], name="Theirs")
    response = client_for(cast["author"]).get(
        reverse("lineage", args=[setup["team"].slug, other.pk])
    )
    assert response.status_code == 404


def test_the_dpo_command_refuses_an_unapproved_set_and_records_an_override(setup, cast) -> None:
    from django.core.management.base import CommandError

    label_set = _label_set(setup["team"], cast["author"], name="cmd labels")
    args = [
        "run_start",
        "dpo",
        "--team",
        setup["team"].slug,
        "--label-set",
        str(label_set.pk),
        "--model",
        "sft out",
        "--set",
        "train.max_steps=2",
    ]
    with pytest.raises(CommandError, match="not approved"):
        call_command(*args)
    call_command(*args, "--override-reason", "from the shell")
    run = Run.objects.latest("pk")
    assert run.override_reason == "from the shell" and run.config["train"]["max_steps"] == 2


def test_run_start_refuses_a_reward_model_as_a_dpo_policy_with_the_reason(setup, cast) -> None:
    from django.core.management.base import CommandError

    label_set = _label_set(setup["team"], cast["author"], name="rm labels")
    reward_model = ModelEntry.objects.create(
        team=setup["team"],
        name="rm",
        path=setup["model"].path,
        options={"reward_model": True},
    )
    before = Run.objects.count()
    with pytest.raises(CommandError, match="rm is a reward model"):
        call_command(
            "run_start",
            "dpo",
            *("--team", setup["team"].slug, "--label-set", str(label_set.pk), "--model", "rm"),
            *("--override-reason", "x"),
        )
    with pytest.raises(services.TrainingError, match="cannot be trained as a policy") as caught:
        start(
            "dpo",
            team=setup["team"],
            user=cast["author"],
            label_set=label_set,
            model=reward_model,
            config={"override_reason": "x"},
        )
    assert caught.value.field == "model"
    assert Run.objects.count() == before
    # The form offers exactly what the service accepts: the reward model is not a choice.
    form = kinds()["dpo"].form_class(team=setup["team"], prefix="dpo")
    assert reward_model not in form.fields["model"].queryset
    assert setup["sft_model"] in form.fields["model"].queryset


@pytest.mark.parametrize(
    ("inputs", "config", "field", "message"),
    [
        ({"judge": None}, {}, "judge", "takes no input judge"),
        ({}, {"trian": {}}, "config", "unknown field"),
        ({}, {"train": {"max_steps": True}}, "max_steps", "must be an integer"),
        ({}, {"train": {"model_path": "/elsewhere"}}, "config", "Unknown training option"),
        ({}, {"min_rounds": "2"}, "config", "min_rounds: must be an integer"),
    ],
)
def test_run_start_names_the_field_it_refuses(setup, cast, inputs, config, field, message) -> None:
    before = Run.objects.count()
    with pytest.raises(services.TrainingError, match=message) as caught:
        start(
            "sft",
            team=setup["team"],
            user=cast["author"],
            **{"source_run": setup["cr"], "model": setup["model"], **inputs},
            config=config,
        )
    assert caught.value.field == field
    assert Run.objects.count() == before


def test_run_start_refuses_an_unknown_kind() -> None:
    with pytest.raises(services.TrainingError, match="Unknown run kind 'ppo'; the kinds are"):
        services.run_start(kind="ppo", team=None, user=None, inputs={})


def test_every_recipe_starts_its_kind_through_run_start(setup, cast) -> None:
    from pathlib import Path

    from django.conf import settings

    from constitutions import services as constitution_services

    s, slug = setup, setup["team"].slug
    # A constitution check takes a version with a test case (a draft will do).
    checked, _ = constitution_services.version_draft_from(version=s["version"], user=cast["author"])
    constitution_services.case_add(
        principle=checked.principles.order_by("order").first(),
        user=cast["author"],
        kind="labeller",
        prompt="p",
        response_a="a",
        response_b="b",
        preferred="a",
    )
    # Calibration needs a gold label set (a pair whose right answer a person gave).
    from labelling.formats import NO_JUDGE, LabelRecord
    from labelling.services import labelset_create_from_pairs

    gold = labelset_create_from_pairs(
        team=s["team"],
        user=cast["author"],
        name="gold pairs",
        records=[LabelRecord("g1", "p", "a", "b", NO_JUDGE, None, None, human="a")],
    )
    inputs = {
        "critique_revision": (
            "--version",
            str(s["version"].pk),
            "--prompt-set",
            "locks",
            "--model",
            "fake",
        ),
        "sft": ("--source-run", str(s["cr"].pk), "--model", "fake"),
        "labelling": (
            "--prompt-set",
            "locks",
            "--policy",
            "sft out",
            "--judge",
            "fake",
            "--version",
            str(s["version"].pk),
        ),
        "dpo": (
            "--label-set",
            str(s["labelling"].output_label_set_id),
            "--model",
            "fake",
            "--override-reason",
            "x",
            "--confirm-inconsistent",
        ),
        "reward": (
            "--label-set",
            str(s["labelling"].output_label_set_id),
            "--model",
            "fake",
            "--override-reason",
            "x",
            "--confirm-inconsistent",
        ),
        "evaluation": (
            "--policy",
            "sft out",
            "--base",
            "fake",
            "--judge",
            "fake",
            "--version",
            str(s["version"].pk),
            "--prompt-set",
            "locks",
        ),
        "calibration": (
            "--label-set",
            str(gold.pk),
            "--judge",
            "fake",
            "--version",
            str(s["version"].pk),
        ),
        "mining": (
            "--label-set",
            str(s["labelling"].output_label_set_id),
            "--judge",
            "fake",
            "--version",
            str(s["version"].pk),
        ),
        "constitution_check": ("--version", str(checked.pk), "--judge", "fake"),
    }
    # Mining needs a gold label the AI label disagrees with (its verdicts split: a tie).
    from labelling.services import GoldLabelInput, gold_labels_add

    gold_labels_add(label_set=s["labelling"].output_label_set, labels=[GoldLabelInput("x", "a")])
    recipes = Path(settings.BASE_DIR) / "training" / "recipes" / "runs"
    assert sorted(p.stem for p in recipes.glob("*.yaml")) == sorted(kinds())
    for kind in kinds():
        call_command(
            "run_start",
            kind,
            "--team",
            slug,
            "--recipe",
            str(recipes / f"{kind}.yaml"),
            *inputs[kind],
        )
        run = Run.objects.latest("pk")
        assert run.kind == kind and run.config_object() is not None
    assert Run.objects.filter(kind="labelling").latest("pk").config["max_new_tokens"] == 64


# --- status that is true, the runs list, compare, launch needs, subsets, error pages -------


def test_the_live_status_names_the_shards_current_stage_and_batch_and_a_fresh_heartbeat(
    setup, cast, client_for, settings
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    settings.RUN_HEARTBEAT_STALE_SECONDS = 300
    run = setup["labelling"]
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        stage="labelling",
        heartbeat_at=now - timedelta(minutes=5),
        started_at=now - timedelta(minutes=6),
        done_units=4,
        total_units=16,
        eta_seconds=None,
    )
    # The run row was last written 5 minutes ago, but the shard beat 3 s ago while judging.
    run.shards.update(status=RunStatus.RUNNING, stage="judging 3/8", heartbeat_at=now, worker="w1")
    url = reverse("run_detail", args=[setup["team"].slug, run.pk])
    body = client_for(cast["viewer"]).get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Now: <strong>judging</strong> · batch 3 / 8" in body
    assert (
        "last heartbeat <time" in body and "just now" not in body
    )  # server words: "0 minutes ago"
    assert "no word from the worker" not in body
    # 4 of 16 units in 6 minutes: 12 more at that rate is about 18 minutes.
    assert "from the average rate since the start" in body
    assert re.search(r'data-countdown="10[78]\d"', body)
    # Past the stale threshold the warning appears.
    run.shards.update(heartbeat_at=now - timedelta(minutes=10))
    Run.objects.filter(pk=run.pk).update(heartbeat_at=now - timedelta(minutes=10))
    body = client_for(cast["viewer"]).get(url, headers={"HX-Request": "true"}).content.decode()
    assert "no word from the worker for more than 5 min 0 s" in body


def test_an_eta_is_unknown_until_a_unit_is_done_and_says_so(setup, cast, client_for) -> None:
    run = setup["labelling"]
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, done_units=0, eta_seconds=None)
    url = reverse("run_detail", args=[setup["team"].slug, run.pk])
    body = client_for(cast["viewer"]).get(url).content.decode()
    assert (
        'ETA <strong>unknown</strong> <small class="muted">(no unit finished yet)</small>' in body
    )


def test_a_queued_run_says_what_it_waits_behind(setup, cast, client_for) -> None:
    s = setup
    first = cr_start(
        team=s["team"],
        user=cast["author"],
        version=s["version"],
        prompt_set=s["prompt_set"],
        model=s["model"],
        config=small_config(),
        name="ahead",
        enqueue=False,
    )
    second = cr_start(
        team=s["team"],
        user=cast["author"],
        version=s["version"],
        prompt_set=s["prompt_set"],
        model=s["model"],
        config=small_config(),
        name="behind",
        enqueue=False,
    )
    body = (
        client_for(cast["viewer"])
        .get(reverse("run_detail", args=[s["team"].slug, second.pk]))
        .content.decode()
    )
    ahead = Run.objects.filter(status__in=("queued", "running"), pk__lt=second.pk).count()
    assert f"Waiting behind <strong>{ahead} runs</strong> (queue position {ahead + 1}" in body
    assert f'href="/t/{s["team"].slug}/runs/{first.pk}/">ahead</a>' in body


def test_the_runs_list_filters_pages_and_counts_training_in_steps(setup, cast, client_for) -> None:
    s, client = setup, client_for(cast["viewer"])
    url = reverse("run_list", args=[s["team"].slug])
    Run.objects.filter(pk=s["sft"].pk).update(total_units=5, done_units=0)
    body = client.get(url).content.decode()
    assert "step 5 / 5" in body and "0/5" not in body  # a succeeded trainer did all its steps
    dpo_only = client.get(url, {"kind": "dpo"}).content.decode()
    assert f'name="run" value="{s["sft"].pk}"' not in dpo_only
    assert f'name="run" value="{s["dpo"].pk}"' in dpo_only
    by_model = client.get(url, {"model": s["sft_model"].pk}).content.decode()
    # The SFT model is the DPO policy, the labelling policy and the evaluated policy.
    shown = {r.pk for r in Run.objects.all() if f'name="run" value="{r.pk}"' in by_model}
    assert shown == {s["dpo"].pk, s["labelling"].pk, s["evaluation"].pk}
    nobody = client.get(url, {"user": cast["viewer"].pk}).content.decode()
    assert "No run matches these filters." in nobody
    assert client.get(url, {"page": "99"}).status_code == 200


def test_compare_overlays_two_trainers_losses_and_diffs_their_configs(
    setup, cast, client_for
) -> None:
    s = setup
    RunMetric.objects.bulk_create(
        [RunMetric(run=s["sft"], step=step, name="loss", value=1.0 / step) for step in (1, 2, 3)]
    )
    url = reverse("run_compare", args=[s["team"].slug])
    body = client_for(cast["viewer"]).get(url, {"run": [s["sft"].pk, s["dpo"].pk]}).content.decode()
    assert 'id="compare-loss-chart"' in body
    chart = body[body.index('id="compare-loss-chart"') :]
    chart = chart[: chart.index("</figure>")]
    assert chart.count('class="legend-item"') == 2 and chart.count("<polyline") == 2
    assert "train.max_steps" in body and 'class="differs"' in body
    # A pick of one run, or of another team's run, says why nothing is compared.
    alone = client_for(cast["viewer"]).get(url, {"run": [s["sft"].pk, 999999]}).content.decode()
    assert "No run #999999 in this team." in alone and "Pick at least two runs" in alone


def test_each_launch_page_lists_what_the_kind_needs_and_links_to_create_it(
    cast, team, client_for
) -> None:
    body = (
        client_for(cast["author"])
        .get(reverse("run_launch", args=[team.slug, "critique_revision"]))
        .content.decode()
    )
    assert 'id="need-prompt_set"' in body
    need = body[body.index('id="need-prompt_set"') :].split("</li>")[0]
    assert "none yet" in need and f'href="/t/{team.slug}/prompt-sets/"' in need
    assert f'href="/t/{team.slug}/models/">register a model</a>' in body


def test_a_critique_revision_run_over_the_first_n_prompts_needs_no_re_upload(
    setup, cast, client_for
) -> None:
    s = setup
    run = cr_start(
        team=s["team"],
        user=cast["author"],
        version=s["version"],
        prompt_set=s["prompt_set"],
        model=s["model"],
        config=small_config(prompt_limit=3),
        prompt_selection="all",
        enqueue=False,
    )
    assert run.examples_total == 3 and run.config["prompt_limit"] == 3
    assert run.total_units == 3 * small_config().units_per_example
    body = (
        client_for(cast["viewer"])
        .get(reverse("run_detail", args=[s["team"].slug, run.pk]))
        .content.decode()
    )
    assert "first 3 of the all prompts, 3 prompts" in body
    with pytest.raises(services.TrainingError) as refused:
        cr_start(
            team=s["team"],
            user=cast["author"],
            version=s["version"],
            prompt_set=s["prompt_set"],
            model=s["model"],
            config=small_config(prompt_limit=len(PROMPTS) + 1),
            prompt_selection="all",
            enqueue=False,
        )
    assert refused.value.field == "prompt_limit" and "holds only" in str(refused.value)


def test_a_post_only_url_opened_by_a_link_gets_the_sites_405_page(setup, cast, client_for):
    url = reverse("run_cancel", args=[setup["team"].slug, setup["dpo"].pk])
    response = client_for(cast["author"]).get(url)
    body = response.content.decode()
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert 'id="error-405"' in body and "use its button" in body and "<nav" in body


def test_a_missing_page_is_the_sites_404_page(setup, cast, client_for) -> None:
    response = client_for(cast["viewer"]).get(f"/t/{setup['team'].slug}/runs/999999/")
    assert response.status_code == 404
    assert 'id="error-404"' in response.content.decode()


def test_submitting_the_same_launch_page_twice_starts_one_run(
    setup, cast, client_for, django_capture_on_commit_callbacks
) -> None:
    client = client_for(cast["author"])
    url = reverse("run_launch", args=[setup["team"].slug, "sft"])
    page = client.get(url).content.decode()
    key = page.split('name="sft-launch_key" value="')[1].split('"')[0]
    assert len(key) == 32
    data = {
        "sft-source_run": setup["cr"].pk,
        "sft-model": setup["model"].pk,
        "sft-max_steps": 3,
        "sft-learning_rate": 2e-5,
        "sft-per_device_batch_size": 2,
        "sft-max_length": 256,
        "sft-seed": 0,
        "sft-launch_key": key,
    }
    before = Run.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(url, data)
        second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Run.objects.count() == before + 1 and len(callbacks) == 1
    # A fresh page view gets a fresh key, so a deliberate second launch still works.
    assert key not in client.get(url).content.decode()


def test_an_idempotency_key_of_another_kind_is_refused(setup, cast) -> None:
    run = start(
        "sft",
        team=setup["team"],
        user=cast["author"],
        source_run=setup["cr"],
        model=setup["model"],
    )
    Run.objects.filter(pk=run.pk).update(idempotency_key="nightly-1")
    with pytest.raises(services.TrainingError, match="another kind") as caught:
        services.run_start(
            kind="evaluation",
            team=setup["team"],
            user=cast["author"],
            inputs={
                "policy": setup["sft_model"],
                "base": setup["model"],
                "judge": setup["model"],
                "version": setup["version"],
                "prompt_set": setup["prompt_set"],
            },
            idempotency_key="nightly-1",
            enqueue=False,
        )
    assert caught.value.field == "idempotency_key"
