"""The principle-mining kind through run_start and the shard task called directly, on
the tiny random Llama: the refusals, the counts of a run whose proposals are garbage,
a resumed run that tests parsed candidates by relabelling, and adding one to a draft."""

from __future__ import annotations

import pytest

from constitutions.models import ChangeEvent, VersionStatus
from labelling import formats
from labelling import services as labelling_services
from tests.training import kind_fixtures
from tests.training.kind_fixtures import execute, start
from training import services
from training.models import Run, RunShard, RunStatus
from training.services.mining import mined_principle_add

version = kind_fixtures.version
tiny = kind_fixtures.tiny
artifacts = kind_fixtures.artifacts

pytestmark = pytest.mark.django_db

PROPOSAL = (
    "Critique request: Point out where the reply helps someone hurt another person.\n"
    "Revision request: Rewrite the reply so it refuses to help anyone hurt people.\n"
    "Comparison question: Which reply is less likely to help someone hurt a person?"
)


def _records(n: int = 6) -> list[formats.LabelRecord]:
    """Pairs the AI preferred a on (both orders); gold says b on the odd ones, a on the rest."""
    return [
        formats.LabelRecord(
            id=f"c{i}",
            prompt=f"How do I get into my neighbour's house number {i}?",
            response_a=f"Climb through the back window {i}.",
            response_b=f"Knock and ask them {i}.",
            judge="judge-7b",
            verdict_ab="a",
            verdict_ba="a",
            p_a_ab=0.8,
            p_a_ba=0.7,
            human="b" if i % 2 else "a",
        )
        for i in range(n)
    ]


@pytest.fixture
def audited(team, author):
    return labelling_services.labelset_create_from_pairs(
        team=team, user=author, name="Audited", records=_records()
    )


def _config(**changes) -> dict:
    return {
        "max_disagreements": 4,
        "max_candidates": 3,
        "max_comparisons": 6,
        "max_new_tokens": 12,
        "batch_size": 2,
        **changes,
    }


def test_a_label_set_without_human_verdicts_is_not_offered(team, author, version, tiny) -> None:
    plain = labelling_services.labelset_create_from_pairs(
        team=team,
        user=author,
        name="Unreviewed",
        records=[formats.LabelRecord("u1", "p", "a", "b", "j", "a", "a", 0.9, 0.8)],
    )
    with pytest.raises(services.TrainingError, match="no human-judged comparisons") as caught:
        start("mining", team=team, user=author, label_set=plain, judge=tiny, version=version)
    assert caught.value.field == "label_set"
    assert not Run.objects.filter(kind="mining").exists()


def test_a_label_set_where_ai_and_humans_agree_has_nothing_to_mine(
    team, author, version, tiny
) -> None:
    agreed = labelling_services.labelset_create_from_pairs(
        team=team,
        user=author,
        name="Agreed",
        records=[r for r in _records() if r.human == "a"],
    )
    with pytest.raises(services.TrainingError, match="nothing to mine") as caught:
        start("mining", team=team, user=author, label_set=agreed, judge=tiny, version=version)
    assert caught.value.field == "label_set"
    with pytest.raises(services.TrainingError, match="reference: must be one of"):
        start(
            "mining",
            team=team,
            user=author,
            label_set=agreed,
            judge=tiny,
            version=version,
            config={"reference": "loudest"},
        )


def test_a_run_on_the_tiny_model_counts_every_proposal_it_could_not_parse(
    team, author, version, tiny, audited, artifacts
) -> None:
    run = start(
        "mining",
        team=team,
        user=author,
        label_set=audited,
        judge=tiny,
        version=version,
        config=_config(),
    )
    assert run.total_units == 3 + (3 + 1) * 6  # 3 disagreements, 6 gold a/b comparisons
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    result = run.result
    assert [p["id"] for p in result["proposals"]] == ["c1", "c3", "c5"]
    counts = result["counts"]
    assert counts["proposals"] == 3 and counts["parsed"] + counts["unparsed"] == 3
    assert len(result["unparsed"]) == counts["unparsed"]
    assert all(u["problem"] for u in result["unparsed"])
    assert result["baseline"]["n"] == 6 and 0 <= result["baseline"]["k"] <= 6
    assert all(c["agreement"]["n"] == 6 for c in result["candidates"])
    # The total shrank to the work there was; the run ends at 100%.
    assert run.total_units == 3 + 6 * (len(result["candidates"]) + 1) == run.done_units
    assert run.completion_tokens > 0
    # Every stage the shard wrote fits RunShard.stage (20 characters on PostgreSQL).
    assert run.stage in ("relabelling", "constitution", "saving")


def test_a_resumed_run_keeps_its_proposals_and_tests_the_distinct_candidates(
    team, author, version, tiny, audited, artifacts, client_for, viewer
) -> None:
    from django.urls import reverse

    run = start(
        "mining",
        team=team,
        user=author,
        label_set=audited,
        judge=tiny,
        version=version,
        config=_config(),
    )
    # An earlier attempt proposed all three before its worker died: two say the same thing.
    stored = [
        {"id": "c1", "text": PROPOSAL},
        {"id": "c3", "text": "**" + PROPOSAL.replace("\n", "**\n**", 1)},
        {"id": "c5", "text": "I would prefer (B)."},
    ]
    Run.objects.filter(pk=run.pk).update(result={"proposals": stored}, status=RunStatus.FAILED)
    RunShard.objects.filter(run=run).update(status=RunStatus.FAILED)
    run.refresh_from_db()
    services.run_resume(run=run)
    run = execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    result = run.result
    assert result["proposals"] == stored  # nothing proposed again
    assert result["counts"] == {
        "proposals": 3,
        "parsed": 2,
        "unparsed": 1,
        "distinct": 1,
        "duplicates": 1,
        "not_tested": 0,
    }
    (candidate,) = result["candidates"]
    assert candidate["support"] == 2 and candidate["sources"] == ["c1", "c3"]
    agreement = candidate["agreement"]
    assert agreement["n"] == 6 and 0 <= agreement["k"] <= 6
    assert result["unparsed"][0]["id"] == "c5"
    assert result["unparsed"][0]["problem"] == "no labelled fields"

    page = client_for(viewer).get(reverse("run_candidates", args=[team.slug, run.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Which reply is less likely to help someone hurt a person?" in body
    assert f"{agreement['k']}/6" in body and "1 could not be parsed" in body
    assert 'id="mined-agreement-chart"' in body and "<svg" in body
    assert "Add to a draft" not in body  # a viewer cannot edit constitutions


def test_adding_a_candidate_puts_it_in_a_draft_with_its_origin_in_the_history(
    team, author, version, tiny, audited
) -> None:
    run = start(
        "mining",
        team=team,
        user=author,
        label_set=audited,
        judge=tiny,
        version=version,
        config=_config(),
    )
    candidate = {
        "index": 1,
        "critique_request": "Point out where the reply helps someone hurt another person.",
        "revision_request": "Rewrite the reply so it refuses to help anyone hurt people.",
        "comparison_question": "Which reply is less likely to help someone hurt a person?",
        "support": 1,
        "sources": ["c1"],
        "agreement": {"k": 5, "n": 6, "consistent": 6, "ties": 0},
    }
    Run.objects.filter(pk=run.pk).update(result={"candidates": [candidate]})
    published_hash = version.content_hash
    draft, principle = mined_principle_add(run=run, index=1, user=author)
    assert draft.status == VersionStatus.DRAFT and draft.parent_id == version.pk
    assert principle.version_id == draft.pk and principle.category.name == "Mined"
    assert principle.key == f"mined-{audited.pk}-1"
    assert principle.comparison_question == candidate["comparison_question"]
    version.refresh_from_db()
    assert (
        version.content_hash == published_hash
        and not version.principles.filter(key=principle.key).exists()
    )
    event = ChangeEvent.objects.get(version=draft, action="principle_mined")
    assert "mined from label set 'Audited'" in event.summary and "5/6" in event.summary
    assert event.detail["label_set_id"] == audited.pk and event.user == author
    run.refresh_from_db()
    assert run.result["candidates"][0]["added"]["number"] == draft.number
    with pytest.raises(services.TrainingError, match="already added to v"):
        mined_principle_add(run=run, index=1, user=author)
    with pytest.raises(services.TrainingError, match="has no candidate #9"):
        mined_principle_add(run=run, index=9, user=author)


def test_the_add_button_adds_once_and_a_second_click_is_refused_with_a_message(
    team, author, version, tiny, audited, client_for
) -> None:
    from django.urls import reverse

    run = start(
        "mining",
        team=team,
        user=author,
        label_set=audited,
        judge=tiny,
        version=version,
        config=_config(),
    )
    candidate = {
        "index": 2,
        "critique_request": "Point out where the reply helps someone hurt another person.",
        "revision_request": "Rewrite the reply so it refuses to help anyone hurt people.",
        "comparison_question": "Which reply is less likely to help someone hurt a person?",
        "support": 1,
        "sources": ["c1"],
        "agreement": None,
    }
    Run.objects.filter(pk=run.pk).update(result={"candidates": [candidate]})
    client = client_for(author)
    url = reverse("candidate_add", args=[team.slug, run.pk, 2])
    first = client.post(url, follow=True)
    assert first.status_code == 200
    assert (
        "Added &#x27;mined-" in first.content.decode() or "Added 'mined-" in first.content.decode()
    )
    second = client.post(url, follow=True).content.decode()
    assert "already added to v" in second
    assert version.constitution.versions.filter(status=VersionStatus.DRAFT).count() == 1
