"""Reads of constitutions that views share; team permissions applied once here."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Prefetch, QuerySet
from django.urls import reverse

from cai_web.models import Capability, Membership, Team

from .content import (
    CASE_FIELDS,
    CaseSpec,
    CategorySpec,
    ConstitutionContent,
    FewShotSpec,
    PrincipleSpec,
)
from .models import (
    Category,
    ChangeEvent,
    Constitution,
    ConstitutionVersion,
    FewShotExample,
    Principle,
    PrincipleCase,
    VersionStatus,
)


def constitution_list(*, team: Team) -> QuerySet[Constitution]:
    return (
        Constitution.objects.filter(team=team)
        .annotate(latest_number=Max("versions__number"), version_count=Count("versions"))
        .order_by("name")
    )


def versions_of(constitution: Constitution) -> QuerySet[ConstitutionVersion]:
    return constitution.versions.select_related("author", "parent").order_by("-number")


def _content_prefetches() -> tuple[Prefetch, ...]:
    return (
        Prefetch("categories", queryset=Category.objects.order_by("order", "pk")),
        Prefetch(
            "principles",
            queryset=Principle.objects.select_related("category").order_by("order", "pk"),
        ),
        Prefetch("few_shots", queryset=FewShotExample.objects.order_by("order", "pk")),
        Prefetch("test_cases", queryset=PrincipleCase.objects.order_by("order", "pk")),
    )


def version_with_content(version_id: int) -> ConstitutionVersion:
    return (
        ConstitutionVersion.objects.select_related("constitution__team", "author", "parent")
        .prefetch_related(*_content_prefetches())
        .get(pk=version_id)
    )


def labelling_summaries(versions: QuerySet[ConstitutionVersion]) -> dict[int, str]:
    """What AI labelling asks under each version (``presenters.labelling_summary``), by pk;
    a fixed number of queries however many versions."""
    from .presenters import labelling_summary

    return {
        v.pk: labelling_summary(version_content(v))
        for v in versions.prefetch_related(*_content_prefetches())
    }


def version_content(version: ConstitutionVersion) -> ConstitutionContent:
    """The version's content as the Django-free snapshot every run and diff uses."""
    categories = sorted(version.categories.all(), key=lambda c: (c.order, c.pk))
    # Principle order is global within a version, so a file's order survives import.
    principles = sorted(version.principles.all(), key=lambda p: (p.order, p.pk))
    cat_name = {c.pk: c.name for c in categories}
    key_of = {p.pk: p.key for p in principles}
    return ConstitutionContent(
        categories=tuple(
            CategorySpec(
                name=c.name, description=c.description, weight=c.weight, priority=c.priority
            )
            for c in categories
        ),
        principles=tuple(
            PrincipleSpec(
                key=p.key,
                category=cat_name[p.category_id],
                critique_request=p.critique_request,
                revision_request=p.revision_request,
                comparison_question=p.comparison_question,
                weight=p.weight,
                enabled=p.enabled,
                id=p.pk,
            )
            for p in principles
        ),
        few_shots=tuple(
            FewShotSpec(
                prompt=f.prompt,
                response=f.response,
                critique_request=f.critique_request,
                critique=f.critique,
                revision_request=f.revision_request,
                revision=f.revision,
            )
            for f in sorted(version.few_shots.all(), key=lambda f: (f.order, f.pk))
        ),
        test_cases=tuple(
            CaseSpec(
                **{name: getattr(c, name) for name in CASE_FIELDS if name != "principle"},
                principle=key_of[c.principle_id],
                id=c.pk,
            )
            for c in sorted(version.test_cases.all(), key=lambda c: (c.order, c.pk))
        ),
    )


def published_versions(*, team: Team) -> QuerySet[ConstitutionVersion]:
    return (
        ConstitutionVersion.objects.filter(constitution__team=team, status=VersionStatus.PUBLISHED)
        .select_related("constitution")
        .order_by("constitution__name", "-number")
    )


def history(constitution: Constitution, limit: int = 500) -> QuerySet[ChangeEvent]:
    return constitution.events.select_related("user").order_by("-at", "-pk")[:limit]


def dashboard_panel(*, team: Team, membership: Membership) -> dict[str, Any]:
    return {
        "id": "constitutions",
        "title": "Constitutions",
        "url": reverse("constitution_list", args=[team.slug]),
        "template": "constitutions/_dashboard_panel.html",
        "items": list(constitution_list(team=team)[:8]),
        "can_edit": membership.can(Capability.EDIT_CONSTITUTIONS),
        "team": team,
    }
