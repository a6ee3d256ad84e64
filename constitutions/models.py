"""Constitutions and their versions.

A version's content (categories, principles, few-shot examples) is stored as
rows so drafts can be edited in place with per-row optimistic locking. Once a
version is published its rows are frozen: the services refuse, and database
triggers (migration 0002) refuse any UPDATE, DELETE or INSERT touching them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cai_web.models import Team

from .content import LIMITS, PrincipleSpec


class Constitution(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="constitutions")
    name = models.CharField(max_length=LIMITS.constitution_name)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"], name="unique_constitution_name_per_team"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class ConstitutionVersion(models.Model):
    constitution = models.ForeignKey(
        Constitution, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changelog = models.TextField(blank=True)
    # sha256 of the canonical JSON of the content; set when published (drafts compute it live).
    content_hash = models.CharField(max_length=64, blank=True)
    row_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["constitution", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["constitution", "number"], name="unique_version_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.constitution.name} v{self.number}"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


class Category(models.Model):
    version = models.ForeignKey(
        ConstitutionVersion, on_delete=models.CASCADE, related_name="categories"
    )
    name = models.CharField(max_length=LIMITS.category_name)
    description = models.TextField(blank=True)
    weight = models.FloatField(default=1.0)
    # 0..32767 on PostgreSQL (SQLite's is wider): LIMITS.priority_min/max, a test keeps them equal.
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower wins conflicts.")
    order = models.PositiveIntegerField(default=0)
    row_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["version", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="unique_category_name"),
            models.CheckConstraint(
                condition=models.Q(weight__gte=0), name="category_weight_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Principle(models.Model):
    version = models.ForeignKey(
        ConstitutionVersion, on_delete=models.CASCADE, related_name="principles"
    )
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="principles")
    key = models.CharField(max_length=LIMITS.principle_key)
    # Empty requests: a labeller-only principle; empty question: a critique-revision-only
    # one (content.principle_use_problem is the rule).
    critique_request = models.TextField(blank=True)
    revision_request = models.TextField(blank=True)
    comparison_question = models.TextField(blank=True)
    weight = models.FloatField(default=1.0)
    enabled = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)
    row_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["version", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="unique_principle_key"),
            models.CheckConstraint(
                condition=models.Q(weight__gte=0), name="principle_weight_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def role(self) -> str:
        """ "both", "critique-revision only" or "labeller only" (``PrincipleSpec.role``)."""
        return PrincipleSpec(
            self.key,
            "",
            self.critique_request,
            self.revision_request,
            self.comparison_question,
        ).role


class FewShotExample(models.Model):
    version = models.ForeignKey(
        ConstitutionVersion, on_delete=models.CASCADE, related_name="few_shots"
    )
    prompt = models.TextField()
    response = models.TextField()
    critique_request = models.TextField()
    critique = models.TextField()
    revision_request = models.TextField()
    revision = models.TextField()
    order = models.PositiveIntegerField(default=0)
    row_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["version", "order", "pk"]

    def __str__(self) -> str:
        return self.prompt[:60]


class ChangeEvent(models.Model):
    """One recorded change to a constitution: who, when, what."""

    constitution = models.ForeignKey(Constitution, on_delete=models.CASCADE, related_name="events")
    version = models.ForeignKey(
        ConstitutionVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    version_number = models.PositiveIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=40)
    summary = models.TextField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["constitution", "-at"])]

    def __str__(self) -> str:
        return f"{self.action}: {self.summary}"


class PrincipleCase(models.Model):
    """A test case of one principle in one version (``content.CaseSpec`` as a row).

    Part of the version's content (and hash); frozen with the version by the
    triggers of migration 0003. ``kind`` says which fields it fills.
    """

    class Kind(models.TextChoices):
        LABELLER = "labeller", "Labeller case"
        POLICY = "policy", "Policy case"

    version = models.ForeignKey(
        ConstitutionVersion, on_delete=models.CASCADE, related_name="test_cases"
    )
    principle = models.ForeignKey(Principle, on_delete=models.CASCADE, related_name="test_cases")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    prompt = models.TextField()
    response_a = models.TextField(blank=True)
    response_b = models.TextField(blank=True)
    preferred = models.CharField(
        max_length=1, blank=True, choices=[("a", "response A"), ("b", "response B")]
    )
    must = models.TextField(blank=True)
    must_not = models.TextField(blank=True)
    reference = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    row_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["version", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.principle_id}: {self.prompt[:40]}"


class PublishCheck(models.TextChoices):
    OFF = "off", "No check needed"
    RAN = "ran", "A constitution check of the exact content"
    PASSED = "passed", "A constitution check of the exact content, every case passed"


class ConstitutionSettings(models.Model):
    """A team's rules for its constitutions (one row per team, made when first saved)."""

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, related_name="constitution_settings"
    )
    publish_check = models.CharField(
        max_length=10,
        choices=PublishCheck.choices,
        default=PublishCheck.OFF,
        help_text="What publishing a version needs from its last constitution check.",
    )

    def __str__(self) -> str:
        return f"{self.team}: publish check {self.publish_check}"
