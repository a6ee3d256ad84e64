"""The cast every test uses: one team, one user per role, and an outsider."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from cai_web.models import Membership, Role, Team

PASSWORD = "correct-horse-battery"
ROLES = ("owner", "author", "auditor", "viewer")


@pytest.fixture(autouse=True, scope="session")
def _model_roots_include_the_test_folders(tmp_path_factory: pytest.TempPathFactory):
    """Tests build models under pytest's temporary folder: an administrator would list
    such a folder in CAI_MODEL_ROOTS. The environment carries it to worker processes."""
    roots = [str(r) for r in settings.MODEL_ROOTS] + [str(tmp_path_factory.getbasetemp())]
    os.environ["CAI_MODEL_ROOTS"] = ",".join(roots)
    settings.MODEL_ROOTS = [Path(r) for r in roots]
    yield


def shared_data_dir() -> Path:
    return Path(os.environ.get("CAI_SHARED_DATA", str(settings.SHARED_DATA_DIR)))


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.exists():
        pytest.fail(f"the public data folder {path} is missing (set CAI_SHARED_DATA)")
    return path


def _user(django_user_model, username: str):
    return django_user_model.objects.create_user(username=username, password=PASSWORD)


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(name="Red Team", slug="red-team")


@pytest.fixture
def other_team(db) -> Team:
    return Team.objects.create(name="Other Team", slug="other-team")


@pytest.fixture
def owner(team, django_user_model):
    user = _user(django_user_model, "olive")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def author(team, django_user_model):
    user = _user(django_user_model, "arthur")
    Membership.objects.create(team=team, user=user, role=Role.AUTHOR)
    return user


@pytest.fixture
def auditor(team, django_user_model):
    user = _user(django_user_model, "audrey")
    Membership.objects.create(team=team, user=user, role=Role.AUDITOR)
    return user


@pytest.fixture
def viewer(team, django_user_model):
    user = _user(django_user_model, "vera")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def outsider(other_team, django_user_model):
    """A signed-in user of another team: must get 404 on every object of ``team``."""
    user = _user(django_user_model, "otto")
    Membership.objects.create(team=other_team, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def cast(owner, author, auditor, viewer, outsider) -> dict:
    return {
        "owner": owner,
        "author": author,
        "auditor": auditor,
        "viewer": viewer,
        "outsider": outsider,
    }


@pytest.fixture
def client_for(client):
    """``client_for(user)`` returns a test client logged in as ``user`` (None: anonymous)."""
    from django.test import Client

    def make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make


def pytest_configure(config):
    # Speed only: the default hasher costs ~1 s per created user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
