"""Start a real Celery worker process against the test database and the configured broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The live test database as a DATABASE_URL the worker's settings will read."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"no worker support for {connection.vendor}")


def purge_queues() -> None:
    """Drop messages a previous session left, so the worker sees only this test's tasks."""
    from cai_web.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("default", "gpu"):
            try:
                channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - a queue that does not exist yet holds nothing
                pass


class Worker:
    """``celery -A cai_web.celery worker -Q default,gpu --concurrency=1 -P solo`` as a subprocess."""

    def __init__(
        self,
        log_dir: Path,
        name: str = "w",
        *,
        queues: str = "default,gpu",
        python: str | Path | None = None,
        extra_env: dict[str, str] | None = None,
        pool: str = "solo",
    ) -> None:
        """``python`` runs the worker from another environment (e.g. .venv-vllm's)."""
        self.name = f"{name}-{uuid.uuid4().hex[:6]}@test"
        self.log_path = log_dir / f"{self.name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CAI_VAR_DIR": str(settings.VAR_DIR),
            # Web and workers share one artifacts folder (a test may point it elsewhere).
            "CAI_ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DJANGO_SETTINGS_MODULE": "cai_web.settings",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra_env or {})
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        command = [
            str(python or sys.executable),
            "-m",
            "celery",
            "-A",
            "cai_web.celery",
            "worker",
            "-Q",
            queues,
            "--concurrency=1",
            "-P",
            pool,
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            self.name,
            "--loglevel=INFO",
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        """SIGKILL: no cleanup, no ack, exactly like an OOM kill or a lost machine."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class Beat:
    """``celery -A cai_web.celery beat``: the one scheduler (the reaper every 15 s)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_path = log_dir / f"beat-{uuid.uuid4().hex[:6]}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CAI_VAR_DIR": str(settings.VAR_DIR),
            # Web and workers share one artifacts folder (a test may point it elsewhere).
            "CAI_ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DJANGO_SETTINGS_MODULE": "cai_web.settings",
            "PYTHONUNBUFFERED": "1",
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cai_web.celery",
                "beat",
                "-s",
                str(log_dir / "beat-schedule"),
                "--loglevel=INFO",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
        self._log.close()


def wait_for(
    predicate: Callable[[], bool], timeout: float, worker: Worker | None = None, poll: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if worker is not None and worker.process.poll() is not None:
            raise AssertionError(
                f"the worker exited with {worker.process.returncode}:\n{worker.log()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError("timed out" + (f"; worker log:\n{worker.log()}" if worker else ""))
        time.sleep(poll)
