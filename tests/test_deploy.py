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
        assert command[:4] == ["celery", "-A", "cai_web", "worker"]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; production never does.
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cai_web"
        ),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "SECRET_KEY": "a-long-production-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "cai.example.org",
        "SECURE": "1",
        "DEBUG": "0",
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
