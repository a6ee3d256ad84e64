"""Writes for teams and memberships."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from .errors import DomainError
from .models import Invitation, Membership, Role, Team

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


def invite_message(username: str, team: Team) -> str:
    """What the owner is told after inviting ``username``: the same words whether or not
    the username exists or is already a member, so the form cannot list usernames."""
    return (
        f"If {username!r} is a user who is not yet in {team.name}, they are invited: "
        "they see the invitation on their home page and can accept or decline it."
    )


@transaction.atomic
def member_invite(*, team: Team, username: str, role: str, invited_by: User) -> None:
    """Invite ``username`` to ``team`` with ``role``; the invitee accepts or declines.

    Says nothing about whether the user exists (``invite_message``): an unknown name,
    a member or an already-invited user are each a silent no-op. Only the role is
    checked out loud, since it is the owner's own input.
    """
    User = get_user_model()
    username = username.strip()
    if role not in Role.values:
        raise TeamError(
            f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.", field="role"
        )
    if not username:
        raise TeamError("Give the username of the person to invite.", field="username")
    user = User.objects.filter(username=username).first()
    if user is None or Membership.objects.filter(team=team, user=user).exists():
        return
    Invitation.objects.update_or_create(
        team=team, invitee=user, defaults={"role": role, "invited_by": invited_by}
    )


def invitations_for(user: User) -> list[Invitation]:
    """The invitations waiting for ``user`` (newest first)."""
    return list(Invitation.objects.filter(invitee=user).select_related("team", "invited_by"))


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The invitee joins the team with the invited role; the invitation goes."""
    if invitation.invitee_id != user.pk:
        raise TeamError("This invitation is for someone else.")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    membership, _ = Membership.objects.get_or_create(
        team=invitation.team, user=user, defaults={"role": invitation.role}
    )
    invitation.delete()
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, user: User) -> None:
    if invitation.invitee_id != user.pk:
        raise TeamError("This invitation is for someone else.")
    Invitation.objects.filter(pk=invitation.pk).delete()


@transaction.atomic
def invitation_withdraw(*, invitation: Invitation) -> None:
    """An owner takes back an invitation that was not answered yet."""
    Invitation.objects.filter(pk=invitation.pk).delete()


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
