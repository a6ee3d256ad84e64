"""Issue 11, problem 8: before DPO or reward training the launch page shows each label
set's position-inconsistent share and mean confidence, and a set above the team's
threshold trains only after an explicit confirmation (form and service both refuse)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labelling.models import LabelSet
from labelling.services import (
    AILabelInput,
    ComparisonInput,
    ailabel_bulk_create,
    comparison_bulk_create,
    labelset_create,
    labelset_training_risk,
)
from tests.training import run_fixtures
from tests.training.kind_fixtures import start
from tests.training.test_run_pages import _dpo_post, setup  # noqa: F401 (fixture)
from training.errors import TrainingError
from training.models import Run

fake_llm = run_fixtures.fake_llm
fake_model_dir = run_fixtures.fake_model_dir

pytestmark = pytest.mark.django_db

# 8 pairs, 5 position-inconsistent (order AB says a, order BA says b), as in the issue.
ROWS = [("a", "a", 0.6, 0.55)] * 3 + [("a", "b", 0.52, 0.47)] * 5


def _risky_set(team, user) -> LabelSet:
    label_set = labelset_create(team=team, user=user, name="risky", source_kind="import")
    comparison_bulk_create(
        label_set=label_set,
        comparisons=[
            ComparisonInput(f"c{i}", f"prompt {i}", f"one {i}", f"two {i}")
            for i in range(len(ROWS))
        ],
    )
    ailabel_bulk_create(
        label_set=label_set,
        labels=[
            AILabelInput(f"c{i}", "judge", ab, ba, pab, pba)
            for i, (ab, ba, pab, pba) in enumerate(ROWS)
        ],
    )
    LabelSet.objects.filter(pk=label_set.pk).update(status="approved")
    return LabelSet.objects.select_related("team").get(pk=label_set.pk)


def _expected_mean_confidence() -> float:
    confs = [max((pab + pba) / 2, 1 - (pab + pba) / 2) for _, _, pab, pba in ROWS]
    return sum(confs) / len(confs)


def test_the_risk_counts_inconsistent_labels_and_their_mean_confidence(team, author):
    risk = labelset_training_risk(_risky_set(team, author))
    assert (risk.n, risk.inconsistent, risk.share) == (8, 5, 0.625)
    assert risk.mean_confidence == pytest.approx(_expected_mean_confidence())
    assert risk.threshold == 0.25 and risk.needs_confirmation


def test_the_launch_page_shows_the_share_and_asks_for_a_confirmation(
    setup,  # noqa: F811
    cast,
    client_for,
) -> None:
    label_set = _risky_set(setup["team"], cast["author"])
    client = client_for(cast["author"])
    for kind in ("dpo", "reward"):
        page = client.get(reverse("run_launch", args=[setup["team"].slug, kind])).content.decode()
        row = page.split(f'id="risk-{label_set.pk}"')[1].split("</tr>")[0]
        assert "62.5%" in row and f"{_expected_mean_confidence():.3f}" in row
        assert "confirm" in row and "above 25%" in row
        assert f'name="{kind}-confirm_inconsistent"' in page

    url = reverse("run_launch", args=[setup["team"].slug, "dpo"])
    before = Run.objects.count()
    response = client.post(url, _dpo_post(setup, label_set))
    body = response.content.decode()
    assert response.status_code == 400 and Run.objects.count() == before
    assert "62.5% position-inconsistent (5 of 8 AI labels)" in body
    assert "Confirm to train on it anyway" in body
    response = client.post(url, _dpo_post(setup, label_set, confirm_inconsistent="on"))
    assert response.status_code == 302 and Run.objects.count() == before + 1


def test_the_service_refuses_without_confirmation_whatever_the_client(setup, cast) -> None:  # noqa: F811
    team = setup["team"]
    label_set = _risky_set(team, cast["author"])
    model = setup["sft_model"]
    with pytest.raises(TrainingError, match="62.5% position-inconsistent") as err:
        start("reward", team=team, user=cast["author"], label_set=label_set, model=model)
    assert err.value.field == "confirm_inconsistent"
    with pytest.raises(TrainingError, match="true or false"):
        start(
            "dpo",
            team=team,
            user=cast["author"],
            label_set=label_set,
            model=model,
            config={"confirm_inconsistent": "yes"},
        )
    run = start(
        "dpo",
        team=team,
        user=cast["author"],
        label_set=label_set,
        model=model,
        config={"confirm_inconsistent": True, "train": {"max_steps": 2}},
    )
    assert run.kind == "dpo" and "confirm_inconsistent" not in run.config


def test_the_team_sets_the_threshold(setup, cast, client_for) -> None:  # noqa: F811
    team = setup["team"]
    label_set = _risky_set(team, cast["author"])
    response = client_for(cast["owner"]).post(
        reverse("labelling_settings", args=[team.slug]),
        {
            "min_audit_agreement": "0.7",
            "min_audit_reviews": "20",
            "confirm_inconsistent_above": "0.7",
        },
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.confirm_inconsistent_above == 0.7
    assert not labelset_training_risk(LabelSet.objects.get(pk=label_set.pk)).needs_confirmation
    run = start(
        "dpo", team=team, user=cast["author"], label_set=label_set, model=setup["sft_model"]
    )
    assert run.kind == "dpo"
    bad = client_for(cast["owner"]).post(
        reverse("labelling_settings", args=[team.slug]),
        {
            "min_audit_agreement": "0.7",
            "min_audit_reviews": "20",
            "confirm_inconsistent_above": "1.5",
        },
    )
    assert bad.status_code == 200 and "between 0 and 1" in bad.content.decode()
