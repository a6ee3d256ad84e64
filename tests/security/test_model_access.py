"""Models are confined to their team, and a worker calls only allowed model servers.

Each test replays an attack from issue 12 and checks it now fails: another team's
trained model registered by path, a system file probed through the registry, a
``gguf_file`` that climbs out of its folder, an OpenAI-compatible "model" pointed at
the app itself or at Redis, and a row written behind the service's back that the
worker still refuses to load.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from training import services
from training.artifacts import run_dir
from training.model_access import ModelNotAllowed, check_entry, check_server_url
from training.models import ModelEntry, Run

pytestmark = pytest.mark.django_db


def _model_dir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def roots(settings, tmp_path: Path) -> dict[str, Path]:
    shared = _model_dir(tmp_path / "models" / "base-model")
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODEL_ROOTS = [tmp_path / "models"]
    settings.ARTIFACTS_DIR = tmp_path / "models" / "artifacts"  # even inside a root
    return {"shared": shared, "tmp": tmp_path}


def _register(team, user, path: str, **extra):
    return services.model_register(team=team, user=user, name="m", path=path, **extra)


def test_a_shared_model_under_a_root_registers(team, author, roots) -> None:
    entry = _register(team, author, str(roots["shared"]))
    assert Path(entry.path) == roots["shared"].resolve()


def test_another_teams_trained_model_cannot_be_registered_by_its_path(
    team, other_team, author, roots
) -> None:
    theirs = Run.objects.create(team=other_team, kind="sft")
    final = _model_dir(run_dir(theirs) / "train" / "final")
    with pytest.raises(services.TrainingError, match="No model this team can use") as caught:
        _register(team, author, str(final))
    assert caught.value.field == "path"
    # Even naming the run's folder as the source does not help another team.
    with pytest.raises(services.TrainingError, match="No model this team can use"):
        _register(team, author, str(final), source_run=theirs)
    assert not ModelEntry.objects.exists()


def test_missing_and_forbidden_paths_get_the_same_answer(team, author, roots) -> None:
    secret = roots["tmp"] / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("key")
    answers = []
    for path in (str(secret), "/etc/passwd", str(roots["tmp"] / "models" / "nothing-here")):
        with pytest.raises(services.TrainingError) as caught:
            _register(team, author, path)
        answers.append(str(caught.value).replace(path, "<path>"))
    assert len(set(answers)) == 1, answers
    assert "is a file" not in answers[0] and "does not exist" not in answers[0]


def test_dot_dot_and_symlinks_out_of_a_root_are_refused(team, author, roots) -> None:
    outside = _model_dir(roots["tmp"] / "outside-model")
    climbing = str(roots["tmp"] / "models" / ".." / "outside-model")
    link = roots["tmp"] / "models" / "link"
    os.symlink(outside, link)
    for path in (climbing, str(link), "../outside-model"):
        with pytest.raises(services.TrainingError, match="No model this team can use"):
            _register(team, author, path)


def test_a_teams_own_area_is_its_own(team, other_team, author, roots) -> None:
    mine = _model_dir(roots["tmp"] / "models" / "teams" / team.slug / "mine")
    theirs = _model_dir(roots["tmp"] / "models" / "teams" / other_team.slug / "theirs")
    assert _register(team, author, str(mine)).path == str(mine.resolve())
    with pytest.raises(services.TrainingError, match="No model this team can use"):
        services.model_register(team=team, user=author, name="x", path=str(theirs))


@pytest.mark.parametrize("gguf", ["../secret_key", "sub/model.gguf", ".hidden.gguf", "model.bin"])
def test_gguf_file_is_a_plain_gguf_name(team, author, roots, gguf) -> None:
    with pytest.raises(services.TrainingError, match="plain file name") as caught:
        _register(team, author, str(roots["shared"]), gguf_file=gguf)
    assert caught.value.field == "gguf_file"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/healthz?",
        "http://localhost:8000/v1",
        "http://127.0.0.1:6379",
        "http://[::1]:8000/v1",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3:8000/v1",
        "http://0.0.0.0:8000/v1",
    ],
)
def test_a_model_server_on_an_internal_address_is_refused(team, author, settings, url) -> None:
    settings.ALLOWED_MODEL_HOSTS = []
    with pytest.raises(services.TrainingError) as caught:
        services.model_register(team=team, user=author, name="srv", backend="openai", base_url=url)
    assert caught.value.field == "base_url"
    assert not ModelEntry.objects.exists()


def test_an_administrator_can_allow_an_internal_model_host(team, author, settings) -> None:
    settings.ALLOWED_MODEL_HOSTS = ["127.0.0.1:8001"]
    assert check_server_url("http://127.0.0.1:8001/v1") == "http://127.0.0.1:8001/v1"
    with pytest.raises(services.TrainingError):
        check_server_url("http://127.0.0.1:8000/v1")  # another port is not listed


def test_the_worker_refuses_a_stored_row_that_points_where_its_team_may_not_go(
    team, other_team, roots, settings
) -> None:
    theirs = Run.objects.create(team=other_team, kind="sft")
    final = _model_dir(run_dir(theirs) / "train" / "final")
    smuggled = ModelEntry.objects.create(team=team, name="smuggled", path=str(final))
    with pytest.raises(ModelNotAllowed, match="smuggled"):
        check_entry(smuggled)
    settings.ALLOWED_MODEL_HOSTS = []
    server = ModelEntry.objects.create(
        team=team, name="redis", backend="openai", base_url="http://127.0.0.1:6379"
    )
    with pytest.raises(ModelNotAllowed, match="not a public address"):
        check_entry(server)
    # The team's own trained model, registered by its run, loads.
    mine = Run.objects.create(team=team, kind="sft")
    own = _model_dir(run_dir(mine) / "train" / "final")
    check_entry(
        services.model_register(team=team, user=None, name="own", path=str(own), source_run=mine)
    )


def test_the_registry_form_shows_the_refusal_on_the_field(team, author, client_for, roots) -> None:
    response = client_for(author).post(
        reverse("model_list", args=[team.slug]),
        {
            "name": "x",
            "backend": "transformers",
            "path": "/etc/passwd",
            "dtype": "auto",
            "context_length": 2048,
        },
    )
    assert response.status_code == 400
    assert "No model this team can use" in response.content.decode()


def test_the_backend_connects_to_the_address_the_check_accepted() -> None:
    """``connect_ip`` pins the connection: the URL's name does not even resolve, yet the
    request reaches the pinned address with the name in its Host header."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from training.engine.backends.openai_backend import OpenAIBackend
    from training.engine.types import ModelSpec

    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            hosts.append(self.headers["Host"])
            body = json.dumps({"data": [{"id": "m"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        spec = ModelSpec(
            name="m",
            backend="openai",
            base_url=f"http://pinned-model.invalid:{port}/v1",
            options={"connect_ip": "127.0.0.1", "max_retries": 0},
        )
        backend = OpenAIBackend(spec)
        backend.close()
    finally:
        server.shutdown()
    assert hosts == [f"pinned-model.invalid:{port}"]


def test_a_user_cannot_set_the_pinned_address_by_hand(team, author, settings) -> None:
    settings.ALLOWED_MODEL_HOSTS = ["127.0.0.1:8001"]
    with pytest.raises(services.TrainingError, match="connect_ip") as caught:
        services.model_register(
            team=team,
            user=author,
            name="srv",
            backend="openai",
            base_url="http://127.0.0.1:8001/v1",
            options={"connect_ip": "10.0.0.1"},
        )
    assert caught.value.field == "options"
    entry = ModelEntry.objects.create(
        team=team,
        name="srv",
        backend="openai",
        base_url="http://127.0.0.1:8001/v1",
        options={"connect_ip": "10.0.0.1"},
    )
    # The worker's own check replaces whatever the row says.
    assert check_entry(entry) == {"connect_ip": "127.0.0.1"}
