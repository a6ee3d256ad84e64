"""The API's cast: one token per role (the outsider's is for its own team)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from api.services import token_create
from tests.factories import team_world


class ApiClient(Client):
    """Django's test client sending ``Authorization: Bearer <token>`` (or nothing)."""

    def __init__(self, token: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.token = token

    def generic(self, method, path, *args, **extra):
        if self.token:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        return super().generic(method, path, *args, **extra)


@pytest.fixture(autouse=True)
def model_root(settings, tmp_path: Path) -> Path:
    """Models registered by these tests live under the test's folder, a model root."""
    settings.MODELS_DIR = tmp_path
    settings.MODEL_ROOTS = [tmp_path]
    return tmp_path


@pytest.fixture
def tokens(cast, team, other_team) -> dict[str, str]:
    """role → a raw token of that member; the outsider's belongs to the other team."""
    out = {}
    for role, user in cast.items():
        _, raw = token_create(user=user, team=other_team if role == "outsider" else team, name="ci")
        out[role] = raw
    return out


@pytest.fixture
def api_as(tokens):
    def make(role: str | None) -> ApiClient:
        return ApiClient(None if role in (None, "anonymous") else tokens[role])

    return make


@pytest.fixture
def world(cast, team, tmp_path: Path, settings):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    w = team_world(team, cast, model_dir)
    # One artifact file of the world's run, for the artifact endpoints.
    from training.artifacts import run_dir

    folder = run_dir(w["run"]) / "dataset"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text('{"prompt": "hi"}\n')
    return {**w, "model_dir": str(model_dir)}
