"""Team-scoped access: one place that decides 404 (outsider) versus 403 (member
without the right role), so every object URL behaves the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from .models import Membership, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser

M = TypeVar("M", bound=Model)


def membership_for(user: AnyUser, team: Team | int) -> Membership | None:
    if not user.is_authenticated:
        return None
    team_id = team.pk if isinstance(team, Team) else team
    cache = getattr(user, "_membership_cache", None)
    if cache is None:
        cache = {m.team_id: m for m in Membership.objects.filter(user=user)}
        # One query per request: the user object lives as long as the request.
        user._membership_cache = cache  # type: ignore[attr-defined]
    return cache.get(team_id)


def require_membership(user: AnyUser, team: Team | int, capability: str = "view") -> Membership:
    """The member's membership, or 404 for outsiders and 403 for a missing capability."""
    membership = membership_for(user, team)
    if membership is None:
        raise Http404("No such object.")
    if not membership.can(capability):
        raise PermissionDenied(
            f"Your role ({membership.role}) cannot {capability.replace('_', ' ')}."
        )
    return membership


def teams_of(user: User) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user)


def get_for_user(
    queryset: QuerySet[M],
    user: AnyUser,
    *,
    team_path: str = "team",
    capability: str = "view",
    **lookup: Any,
) -> M:
    """Fetch one object whose team the user belongs to; outsiders get 404 by construction."""
    obj = queryset.filter(**{f"{team_path}__memberships__user": user}, **lookup).first()
    if obj is None:
        raise Http404("No such object.")
    team: Any = obj
    for part in team_path.split("__"):
        team = getattr(team, part)
    require_membership(user, team, capability)
    return obj
