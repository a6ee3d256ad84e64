"""The deployment files agree with what the tests exercise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_is_accepted_by_docker_compose():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed (scripts/install installs it with apt)")
    env = {**os.environ, "SECRET_KEY": "compose-check"}
    result = subprocess.run(
        [exe, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr


def test_compose_has_the_services_queues_and_gpu_reservation():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "gpu-worker"}
    assert "-Q" in services["worker"]["command"] and "default" in services["worker"]["command"]
    gpu = services["gpu-worker"]
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"
    assert "--concurrency=1" in gpu["command"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    for name in ("postgres", "redis", "web", "worker", "gpu-worker"):
        assert "healthcheck" in services[name], name
    assert "migrate" in " ".join(services["web"]["command"])


def test_compose_worker_command_is_the_one_the_worker_test_runs():
    # tests/training's end-to-end worker tests start `celery -A cai_web.celery worker -Q ...`.
    for name in ("worker", "gpu-worker"):
        command = compose()["services"][name]["command"]
        assert command[:4] == ["celery", "-A", "cai_web.celery", "worker"]


def readme_production_settings() -> dict[str, str]:
    """The settings block the README's Production section lists, as name -> example."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- production-settings -->", 1)[1].split("```sh\n", 1)[1]
    block = block.split("```", 1)[0]
    return dict(line.split("=", 1) for line in block.strip().splitlines())


# The README's placeholders, made concrete; nothing is added that the README does not list.
CONCRETE = {
    "SECRET_KEY": "a-long-production-secret-key-" + "x" * 40,
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cai_web"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def test_check_deploy_is_clean_with_exactly_the_production_settings_the_readme_lists(tmp_path):
    listed = readme_production_settings()
    assert set(listed) == {
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "SECURE",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
    }
    env = {
        # Nothing from this machine's environment that the settings read (DEBUG, SECURE_*,
        # CAI_*...) leaks in: only PATH-like basics, the README's list and a var folder.
        # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; production never does.
        **{
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")
        },
        **{name: CONCRETE.get(name, value) for name, value in listed.items()},
        "CAI_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
