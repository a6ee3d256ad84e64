"""Teams and memberships: everything a user creates belongs to a team."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    AUTHOR = "author", "Author"
    AUDITOR = "auditor", "Auditor"
    VIEWER = "viewer", "Viewer"


class Capability(models.TextChoices):
    """What a role may do. Checked once, in ``cai_web.permissions``."""

    VIEW = "view"
    EDIT_CONSTITUTIONS = "edit_constitutions"
    LAUNCH_RUNS = "launch_runs"
    REVIEW_LABELS = "review_labels"
    APPROVE_LABELS = "approve_labels"
    MANAGE_MEMBERS = "manage_members"


ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(c.value for c in Capability),
    Role.AUTHOR: frozenset(
        {Capability.VIEW, Capability.EDIT_CONSTITUTIONS, Capability.LAUNCH_RUNS}
    ),
    Role.AUDITOR: frozenset({Capability.VIEW, Capability.REVIEW_LABELS, Capability.APPROVE_LABELS}),
    Role.VIEWER: frozenset({Capability.VIEW}),
}


class Team(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    # The approval gate of the labelling app: the audited AI-human agreement a
    # label set needs before it may train anything.
    min_audit_agreement = models.FloatField(default=0.7)
    min_audit_reviews = models.PositiveIntegerField(default=20)
    # DPO and reward training ask for an explicit confirmation when more than this
    # share of the label set's AI labels is position-inconsistent (labelling's
    # labelset_training_risk; the launch form and the kind's check both enforce it).
    confirm_inconsistent_above = models.FloatField(default=0.25)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="unique_membership"),
        ]
        ordering = ["team", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def can(self, capability: str) -> bool:
        return capability in ROLE_CAPABILITIES[self.role]


class Invitation(models.Model):
    """An owner's offer of a role in a team; the invitee accepts (a membership) or declines.

    Nobody joins a team they did not choose, and the owner is told the same thing whether
    or not the username exists (``cai_web.services.member_invite``).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "invitee"], name="unique_invitation"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.invitee} invited to {self.team} ({self.role})"
