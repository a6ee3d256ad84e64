"""Teams, memberships, the demo seed."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from cai_web import services
from cai_web.models import Membership, Role, Team

pytestmark = pytest.mark.django_db


def test_creating_a_team_makes_its_creator_the_owner(django_user_model):
    user = django_user_model.objects.create_user("maker")
    team = services.team_create(name="Safety Evals", owner=user)
    assert team.slug == "safety-evals"
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER
    second = services.team_create(name="Safety Evals", owner=user)
    assert second.slug == "safety-evals-2"


def test_inviting_an_unknown_user_names_the_user(team, owner):
    with pytest.raises(services.TeamError, match="No user is called 'nobody'"):
        services.member_invite(team=team, username="nobody", role="viewer")


def test_inviting_with_an_unknown_role_is_refused(team, owner, outsider):
    with pytest.raises(services.TeamError, match="Unknown role"):
        services.member_invite(team=team, username=outsider.username, role="admin")
    assert not Membership.objects.filter(team=team, user=outsider).exists()


def test_a_team_always_keeps_one_owner(team, owner, author):
    only_owner = Membership.objects.get(team=team, user=owner)
    with pytest.raises(services.TeamError, match="at least one owner"):
        services.member_remove(membership=only_owner)
    with pytest.raises(services.TeamError, match="at least one owner"):
        services.member_set_role(membership=only_owner, role=Role.VIEWER)
    services.member_set_role(membership=Membership.objects.get(user=author), role=Role.OWNER)
    services.member_set_role(membership=only_owner, role=Role.VIEWER)
    assert Membership.objects.get(user=owner).role == Role.VIEWER


def test_owner_invites_changes_role_and_removes_through_the_page(team, owner, outsider, client_for):
    client = client_for(owner)
    url = reverse("team_members", args=[team.slug])
    response = client.post(url, {"username": outsider.username, "role": "auditor"})
    assert response.status_code == 302
    membership = Membership.objects.get(team=team, user=outsider)
    assert membership.role == Role.AUDITOR
    update = reverse("member_update", args=[team.slug, membership.pk])
    client.post(update, {"action": "role", "role": "author"})
    membership.refresh_from_db()
    assert membership.role == Role.AUTHOR
    client.post(update, {"action": "remove"})
    assert not Membership.objects.filter(team=team, user=outsider).exists()


def test_invite_errors_appear_next_to_the_field(team, owner, client_for):
    response = client_for(owner).post(
        reverse("team_members", args=[team.slug]), {"username": "ghost", "role": "viewer"}
    )
    assert response.status_code == 200
    assert "No user is called &#x27;ghost&#x27;" in response.content.decode()


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


def test_the_members_page_offers_a_role_picker_for_each_member(team, owner, viewer, client_for):
    html = client_for(owner).get(reverse("team_members", args=[team.slug])).content.decode()
    assert 'aria-label="Role of vera"' in html
    # one per member (owner and viewer) plus the invite form
    assert html.count('<select name="role"') == 3
