"""Teams, memberships, the demo seed."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from cai_web import services
from cai_web.models import Invitation, Membership, Role, Team

pytestmark = pytest.mark.django_db


def test_creating_a_team_makes_its_creator_the_owner(django_user_model):
    user = django_user_model.objects.create_user("maker")
    team = services.team_create(name="Safety Evals", owner=user)
    assert team.slug == "safety-evals"
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER
    second = services.team_create(name="Safety Evals", owner=user)
    assert second.slug == "safety-evals-2"


def test_inviting_an_unknown_user_writes_nothing_and_says_the_same_as_for_a_real_one(
    team, owner, outsider, client_for
):
    url = reverse("team_members", args=[team.slug])
    client = client_for(owner)
    real = client.post(url, {"username": outsider.username, "role": "viewer"}, follow=True)
    ghost = client.post(url, {"username": "ghost", "role": "viewer"}, follow=True)
    member = client.post(url, {"username": owner.username, "role": "viewer"}, follow=True)

    def said(response, name):
        return [str(m).replace(name, "NAME") for m in response.context["messages"]]

    assert said(real, outsider.username) == said(ghost, "ghost") == said(member, owner.username)
    assert real.status_code == ghost.status_code == member.status_code == 200
    assert Invitation.objects.filter(team=team).count() == 1
    assert not Membership.objects.filter(team=team, user=outsider).exists()


def test_inviting_with_an_unknown_role_is_refused(team, owner, outsider):
    with pytest.raises(services.TeamError, match="Unknown role"):
        services.member_invite(
            team=team, username=outsider.username, role="admin", invited_by=owner
        )
    assert not Invitation.objects.exists()


def test_an_invitee_joins_only_by_accepting_on_their_dashboard(team, owner, outsider, client_for):
    services.member_invite(team=team, username=outsider.username, role="auditor", invited_by=owner)
    assert not Membership.objects.filter(team=team, user=outsider).exists()
    invitee = client_for(outsider)
    dashboard = invitee.get(reverse("home"), follow=True).content.decode()
    assert "olive invites you to <strong>Red Team</strong> as auditor" in dashboard
    invitation = Invitation.objects.get()
    response = invitee.post(
        reverse("invitation_respond", args=[invitation.pk]), {"action": "accept"}
    )
    assert response["Location"] == reverse("team_dashboard", args=[team.slug])
    assert Membership.objects.get(team=team, user=outsider).role == Role.AUDITOR
    assert not Invitation.objects.exists()


def test_an_invitee_can_decline_and_nobody_else_can_answer(
    team, owner, author, outsider, client_for
):
    services.member_invite(team=team, username=outsider.username, role="author", invited_by=owner)
    invitation = Invitation.objects.get()
    url = reverse("invitation_respond", args=[invitation.pk])
    assert client_for(author).post(url, {"action": "accept"}).status_code == 404
    assert client_for(owner).post(url, {"action": "accept"}).status_code == 404
    assert client_for(outsider).post(url, {"action": "decline"}).status_code == 302
    assert not Invitation.objects.exists()
    assert not Membership.objects.filter(team=team, user=outsider).exists()


def test_an_owner_sees_and_withdraws_a_pending_invitation(team, owner, outsider, client_for):
    services.member_invite(team=team, username=outsider.username, role="viewer", invited_by=owner)
    client = client_for(owner)
    page = client.get(reverse("team_members", args=[team.slug])).content.decode()
    assert 'id="pending-invitations"' in page and outsider.username in page
    invitation = Invitation.objects.get()
    client.post(reverse("invitation_withdraw", args=[team.slug, invitation.pk]))
    assert not Invitation.objects.exists()


def test_a_team_always_keeps_one_owner(team, owner, author):
    only_owner = Membership.objects.get(team=team, user=owner)
    with pytest.raises(services.TeamError, match="at least one owner"):
        services.member_remove(membership=only_owner)
    with pytest.raises(services.TeamError, match="at least one owner"):
        services.member_set_role(membership=only_owner, role=Role.VIEWER)
    services.member_set_role(membership=Membership.objects.get(user=author), role=Role.OWNER)
    services.member_set_role(membership=only_owner, role=Role.VIEWER)
    assert Membership.objects.get(user=owner).role == Role.VIEWER


def test_owner_changes_role_and_removes_through_the_page(team, owner, outsider, client_for):
    membership = Membership.objects.create(team=team, user=outsider, role=Role.AUDITOR)
    client = client_for(owner)
    update = reverse("member_update", args=[team.slug, membership.pk])
    client.post(update, {"action": "role", "role": "author"})
    membership.refresh_from_db()
    assert membership.role == Role.AUTHOR
    client.post(update, {"action": "remove"})
    assert not Membership.objects.filter(team=team, user=outsider).exists()


def test_invite_errors_appear_next_to_the_field(team, owner, client_for):
    response = client_for(owner).post(
        reverse("team_members", args=[team.slug]), {"username": "ghost", "role": "admin"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_non_owners_cannot_manage_members(team, author, viewer, client_for):
    response = client_for(author).post(
        reverse("team_members", args=[team.slug]), {"username": viewer.username, "role": "owner"}
    )
    assert response.status_code == 403
    assert Membership.objects.get(user=viewer).role == Role.VIEWER


def test_seed_demo_creates_one_user_per_role_and_a_published_constitution_once():
    call_command("seed_demo", stdout=None)
    call_command("seed_demo", stdout=None)
    team = Team.objects.get(slug="demo-lab")
    roles = dict(team.memberships.values_list("user__username", "role"))
    assert roles == {"owner": "owner", "author": "author", "auditor": "auditor", "viewer": "viewer"}
    constitution = team.constitutions.get()
    assert constitution.versions.get().status == "published"
    # The admin shows every team's rows: the seed makes nobody staff (README: createsuperuser).
    assert not team.memberships.filter(user__is_staff=True).exists()
    assert not team.memberships.filter(user__is_superuser=True).exists()


def test_the_members_page_offers_a_role_picker_for_each_member(team, owner, viewer, client_for):
    html = client_for(owner).get(reverse("team_members", args=[team.slug])).content.decode()
    assert 'aria-label="Role of vera"' in html
    # one per member (owner and viewer) plus the invite form
    assert html.count('<select name="role"') == 3
