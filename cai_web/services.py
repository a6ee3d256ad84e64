"""Writes for teams and memberships."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from .errors import DomainError
from .models import Membership, Role, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class TeamError(DomainError):
    """A request about a team that cannot be honoured; the message is shown to the user."""


@transaction.atomic
def team_create(*, name: str, owner: User) -> Team:
    name = name.strip()
    if not name:
        raise TeamError("A team needs a name.", field="name")
    base = slugify(name)[:50] or "team"
    slug, n = base, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    team = Team.objects.create(name=name, slug=slug)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


@transaction.atomic
def member_invite(*, team: Team, username: str, role: str) -> Membership:
    User = get_user_model()
    username = username.strip()
    if role not in Role.values:
        raise TeamError(
            f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", field="role"
        )
    user = User.objects.filter(username=username).first()
    if user is None:
        raise TeamError(f"No user is called {username!r}.", field="username")
    if Membership.objects.filter(team=team, user=user).exists():
        raise TeamError(f"{username} is already a member of {team.name}.", field="username")
    return Membership.objects.create(team=team, user=user, role=role)


def _ensure_another_owner(membership: Membership) -> None:
    if membership.role == Role.OWNER:
        owners = Membership.objects.select_for_update().filter(
            team=membership.team, role=Role.OWNER
        )
        if owners.count() <= 1:
            raise TeamError("A team must keep at least one owner.")


@transaction.atomic
def member_set_role(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise TeamError(
            f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", field="role"
        )
    if role != Role.OWNER:
        _ensure_another_owner(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, membership: Membership) -> None:
    _ensure_another_owner(membership)
    membership.delete()
