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
