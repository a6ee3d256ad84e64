"""Login throttling (django-axes): the attack of issue 12 — 30 wrong passwords, then the
right one — no longer logs in; after the cool-off it does; owners see and clear it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

COOL_OFF = 2  # seconds; the real default is 900 (CAI_LOGIN_COOLOFF_SECONDS)


@pytest.fixture(autouse=True)
def short_cool_off(settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=COOL_OFF)


def _login(client: Client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_then_the_right_one_does_not_log_in(owner, settings):
    client = Client()
    statuses = [_login(client, owner.username, f"guess-{i}").status_code for i in range(30)]
    limit = settings.AXES_FAILURE_LIMIT
    # The form answers the first limit - 1 wrong passwords; from the limit on, 429.
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert set(statuses[limit - 1 :]) == {429}

    right = _login(client, owner.username, PASSWORD)
    assert right.status_code == 429
    assert not _logged_in(client)
    assert right["Retry-After"] == str(COOL_OFF)
    page = right.content.decode()
    assert "Too many failed logins" in page
    assert f"After {limit} wrong passwords" in page
    assert 'class="card narrow conflict"' in page  # the site's styled page, not axes' text


def test_after_the_cool_off_the_right_password_logs_in(owner, settings):
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(client, owner.username, f"guess-{i}")
    assert _login(client, owner.username, PASSWORD).status_code == 429
    time.sleep(COOL_OFF + 0.5)
    response = _login(client, owner.username, PASSWORD)
    assert response.status_code == 302
    assert _logged_in(client)


def test_the_lockout_is_per_username_and_address(owner, author, settings):
    attacker = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(attacker, owner.username, f"guess-{i}")
    assert _login(attacker, owner.username, PASSWORD).status_code == 429
    # The same address may still log in as another user...
    assert _login(Client(), author.username, PASSWORD).status_code == 302
    # ...and the member, from their own address, is not locked out by a stranger.
    member = Client()
    assert _login(member, owner.username, PASSWORD, address="198.51.100.20").status_code == 302
    assert _logged_in(member)


def test_the_admin_login_is_throttled_too(owner, settings):
    client = Client()
    url = reverse("admin:login")
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": owner.username, "password": f"guess-{i}"})
    response = client.post(url, {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Retry-After" in response


def test_an_owner_sees_a_locked_out_member_and_unlocks_them(
    team, owner, author, viewer, client_for, settings
):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), viewer.username, f"guess-{i}")
    members = reverse("team_members", args=[team.slug])
    page = client_for(owner).get(members).content.decode()
    assert "locked out" in page
    assert f"{settings.AXES_FAILURE_LIMIT} wrong passwords from 1 address" in page
    # Only owners manage members; an author sees no login column at all.
    assert "locked out" not in client_for(author).get(members).content.decode()

    from cai_web.models import Membership

    membership = Membership.objects.get(team=team, user=viewer)
    client_for(owner).post(
        reverse("member_update", args=[team.slug, membership.pk]), {"action": "unlock"}
    )
    assert "locked out" not in client_for(owner).get(members).content.decode()
    client = Client()
    assert _login(client, viewer.username, PASSWORD).status_code == 302
