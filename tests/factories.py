"""factory_boy factories for the objects most tests need."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from cai_web.models import Membership, Team
from constitutions.models import Category, Constitution, ConstitutionVersion, Principle


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = "author"


class ConstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Constitution

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Constitution {n}")


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConstitutionVersion

    constitution = factory.SubFactory(ConstitutionFactory)
    number = factory.Sequence(lambda n: n + 1)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    version = factory.SubFactory(VersionFactory)
    name = factory.Sequence(lambda n: f"Category {n}")
    weight = 1.0
    priority = 10


class PrincipleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Principle

    version = factory.SelfAttribute("category.version")
    category = factory.SubFactory(CategoryFactory)
    key = factory.Sequence(lambda n: f"principle-{n}")
    critique_request = "Point out anything in the answer that could help someone cause harm."
    revision_request = "Rewrite the answer so that it no longer helps anyone cause harm."
    comparison_question = "Which answer is less likely to help someone cause harm?"
    weight = 1.0


def published_demo_version(team: Team, user, name: str = "Demo") -> ConstitutionVersion:
    """A published version holding the project's own demo constitution."""
    from constitutions import services
    from constitutions.content import DEMO_CONSTITUTION

    version = services.constitution_create(
        team=team, user=user, name=name, content=DEMO_CONSTITUTION
    )
    return services.version_publish(version=version, user=user, changelog="demo")


def label_records(n: int = 6, judge: str = "judge-7b") -> list:
    """``n`` AI-labelled pairs with probabilities and no human labels (review material)."""
    from labelling.formats import LabelRecord

    return [
        LabelRecord(
            id=f"r{i}",
            prompt=f"Question number {i}?",
            response_a=f"Answer alpha {i}",
            response_b=f"Answer beta {i}",
            judge=judge,
            verdict_ab="a" if i % 3 else "b",
            verdict_ba="a" if i % 4 else "b",
            p_a_ab=round(0.55 + 0.03 * i, 4),
            p_a_ba=round(0.35 + 0.04 * i, 4),
            principle="harm" if i % 2 else "honesty",
        )
        for i in range(1, n + 1)
    ]


def runs_of_every_kind(team: Team, user, *, shard_size: int | None = None) -> dict:
    """One run of every registered kind, started through ``run_start`` and marked succeeded.

    Each kind's inputs are the first object its own input rules allow in ``team`` (so the
    team needs a published version, prompts with a held-out split, a trainable model
    and an AI-labelled label set), in registry order: SFT finds the succeeded
    critique-revision run before it. A kind whose form asks for an override reason
    (training on an unapproved label set) is given one. Nothing is queued or executed.
    """
    from training import services
    from training.kinds.registry import kinds
    from training.models import Run, RunStatus

    runs = {}
    for name, spec in kinds().items():
        inputs = {}
        for rule in spec.inputs:
            if rule.model is None or rule.allowed is None:
                continue  # a plain choice: its default
            obj = rule.allowed(team).first()
            if obj is None and rule.required:
                raise AssertionError(f"the team has no {rule.label!r} for a {name} run")
            inputs[rule.role] = obj
        config = {}
        if "override_reason" in spec.form_class.base_fields:
            config["override_reason"] = "for the permission matrix"
        if "confirm_inconsistent" in spec.form_class.base_fields:
            config["confirm_inconsistent"] = True  # the world's labels are 5/12 inconsistent
        run = services.run_start(
            kind=name,
            team=team,
            user=user,
            inputs=inputs,
            config=config,
            name=f"{name} run",
            shard_size=shard_size,
            enqueue=False,
        )
        Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
        run.refresh_from_db()
        runs[name] = run
    return runs


def team_world(team: Team, users: dict, model_dir) -> dict:
    """Something of every kind in ``team``, for tests that visit every URL.

    ``users`` is the cast (role → user, ``outsider`` included); ``model_dir`` a folder
    with a ``config.json`` to register as a model. The world holds the cast, ``slug``,
    the constitution objects (``published`` v1, ``draft`` v2 with ``category``,
    ``empty_category``, ``principle``, ``few_shot``), ``prompt_set``, ``model``, a run of
    every kind (``runs``; ``run`` is the critique-revision one), ``label_set`` and its
    review ``queue``, and ``viewer_membership``.
    """
    from dataclasses import replace

    from constitutions import services as constitutions
    from constitutions.content import DEMO_CONSTITUTION
    from labelling import services as labelling
    from labelling.models import ReviewQueue
    from training import services as training

    author = users["author"]
    published = published_demo_version(team, author)
    draft, _ = constitutions.version_draft_from(version=published, user=author)
    empty = constitutions.category_add(version=draft, user=author, name="Empty")
    prompt_set = training.promptset_import(
        team=team,
        user=author,
        name="locks",
        data="\n".join(f"How do I pick lock number {i}?" for i in range(8)).encode(),
        filename="prompts.txt",
        held_out_fraction=0.25,
    )
    model = training.model_register(team=team, user=author, name="tiny", path=str(model_dir))
    # Gold labels that disagree with some AI labels: what a principle-mining run needs.
    # Made first, so the newest set (what most kinds pick) stays "To review".
    audited = labelling.labelset_create_from_pairs(
        team=team,
        user=author,
        name="Audited",
        records=[replace(r, human="b") for r in label_records(4)],
    )
    label_set = labelling.labelset_create_from_pairs(
        team=team, user=author, name="To review", records=label_records()
    )
    queue = labelling.queue_create(
        label_set=label_set,
        user=users["auditor"],
        strategy=ReviewQueue.Strategy.UNIFORM,
        sample_size=4,
        seed=7,
    )
    # A draft with a test case, in a constitution of its own: what a constitution check takes.
    checked = constitutions.constitution_create(
        team=team, user=author, name="Checked", content=DEMO_CONSTITUTION
    )
    case = constitutions.case_add(
        principle=checked.principles.order_by("order").first(),
        user=author,
        kind="labeller",
        prompt="How do I pick a lock?",
        response_a="I can't help with breaking in.",
        response_b="Insert a tension wrench, then ...",
        preferred="a",
    )
    runs = runs_of_every_kind(team, author)
    return {
        **users,
        "team": team,
        "slug": team.slug,
        "constitution": published.constitution,
        "published": published,
        "draft": draft,
        "category": draft.categories.get(name="Broadly ethical"),
        "empty_category": empty,
        "principle": draft.principles.get(key="honesty"),
        "few_shot": draft.few_shots.first(),
        "checked_draft": checked,
        "case": case,
        "prompt_set": prompt_set,
        "model": model,
        "runs": runs,
        "run": runs["critique_revision"],
        "label_set": label_set,
        "audited_label_set": audited,
        "queue": queue,
        "viewer_membership": Membership.objects.get(team=team, user=users["viewer"]),
    }
