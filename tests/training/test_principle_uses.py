"""Which principles each run kind draws: critique-revision only those with requests, the AI
labeller only those with a comparison question (or, with none, every one and the default
question), and what the labelling launch form says about it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from constitutions import services as constitution_services
from constitutions.content import (
    DEFAULT_COMPARISON_QUESTION,
    CategorySpec,
    ConstitutionContent,
    PrincipleSpec,
)
from tests.factories import published_demo_version
from training.engine.critique_revision import plan_principles
from training.engine.labeller import build_comparison_messages, pair_principles
from training.errors import TrainingError
from training.kinds.checks import require_drawable

MIXED = ConstitutionContent(
    categories=(CategorySpec("A"),),
    principles=(
        PrincipleSpec("sl-1", "A", critique_request="Critique 1.", revision_request="Revise 1."),
        PrincipleSpec("sl-2", "A", critique_request="Critique 2.", revision_request="Revise 2."),
        PrincipleSpec("judge-1", "A", comparison_question="Which is kinder?"),
        PrincipleSpec("judge-2", "A", comparison_question="Which is more honest?"),
    ),
)
SL_ONLY = ConstitutionContent(
    categories=(CategorySpec("A"),),
    principles=(PrincipleSpec("sl", "A", critique_request="C.", revision_request="R."),),
)
JUDGE_ONLY = ConstitutionContent(
    categories=(CategorySpec("A"),),
    principles=(PrincipleSpec("judge", "A", comparison_question="Which is safer?"),),
)


def _published(team, user, name: str, content: ConstitutionContent):
    version = constitution_services.constitution_create(
        team=team, user=user, name=name, content=content
    )
    return constitution_services.version_publish(version=version, user=user)


def test_critique_revision_plans_use_only_principles_with_requests() -> None:
    plan = plan_principles(MIXED, n_examples=40, rounds=2, seed=7)
    keys = {p.key for round_ in plan for p in round_}
    assert keys == {"sl-1", "sl-2"}


def test_the_labeller_draws_only_principles_with_a_comparison_question() -> None:
    drawn = {p.key for i in range(40) for p in pair_principles(MIXED, 3, i, 2)}
    assert drawn == {"judge-1", "judge-2"}
    (principle,) = pair_principles(MIXED, 3, 0, 1)
    (message,) = build_comparison_messages("prompt", "one", "two", principle)
    assert principle.comparison_question in message["content"]


def test_without_any_comparison_question_the_labeller_asks_the_default() -> None:
    (principle,) = pair_principles(SL_ONLY, 3, 0, 1)
    assert principle.key == "sl"
    (message,) = build_comparison_messages("prompt", "one", "two", principle)
    assert DEFAULT_COMPARISON_QUESTION in message["content"]


@pytest.mark.django_db
def test_a_labeller_only_version_is_refused_for_critique_revision_only(team, author) -> None:
    version = _published(team, author, "Judge", JUDGE_ONLY)
    require_drawable(version, "comparison")
    with pytest.raises(TrainingError) as info:
        require_drawable(version, "critique")
    assert "every principle is labeller-only" in str(info.value)
    assert info.value.field == "version"


@pytest.mark.django_db
def test_the_labelling_launch_form_says_what_labelling_asks_under_each_version(
    team, author, client_for
) -> None:
    demo = published_demo_version(team, author)
    swarm = _published(team, author, "Swarm-like", SL_ONLY)
    mixed = _published(team, author, "Mixed", MIXED)
    page = client_for(author).get(reverse("run_launch", args=[team.slug, "labelling"]))
    html = page.content.decode()
    assert page.status_code == 200

    def option(version) -> str:
        start = html.index(f'value="{version.pk}"')
        return html[start : html.index("</option>", start)]

    assert "labelling draws 8 principles with a comparison question" in option(demo)
    assert "labelling draws 2 principles with a comparison question" in option(mixed)
    assert "no comparison question: labelling asks the default question" in option(swarm)
    assert DEFAULT_COMPARISON_QUESTION in html


@pytest.mark.django_db
def test_mining_relabels_with_the_labeller_so_a_labeller_only_version_passes_its_check(
    team, author
) -> None:
    from labelling.models import LabelSet
    from training.kinds import mining

    label_set = LabelSet.objects.create(team=team, name="empty", source_kind="import")
    judge_only = _published(team, author, "Judge", JUDGE_ONLY)
    with pytest.raises(TrainingError) as info:
        mining.check(team, {"version": judge_only, "label_set": label_set}, {}, author)
    assert info.value.field == "label_set"  # past the version: nothing to mine in the set
    sl_only = _published(team, author, "SL", SL_ONLY)
    with pytest.raises(TrainingError) as info:
        mining.check(team, {"version": sl_only, "label_set": label_set}, {}, author)
    assert info.value.field == "label_set"  # the labeller asks the default question
