"""Reads of the API app."""

from __future__ import annotations

from django.db.models import QuerySet

from cai_web.models import Capability, Membership

from .models import ApiToken


def tokens_for(*, membership: Membership) -> QuerySet[ApiToken]:
    """The tokens a member sees on the settings page: their own; an owner sees the team's."""
    qs = ApiToken.objects.filter(team_id=membership.team_id).select_related("user")
    if not membership.can(Capability.MANAGE_MEMBERS):
        qs = qs.filter(user_id=membership.user_id)
    return qs.order_by("revoked_at", "-created_at", "-pk")
