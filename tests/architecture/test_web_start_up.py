"""A fresh web process serves its first page without Celery or numpy.

Serving the team dashboard (the page users land on after a deploy) must not import
the Celery app with kombu and amqp (about 0.5 s; loaded when a task is first sent)
or numpy (about 0.2 s; loaded when a statistic is first computed). The data is made
in one process; the page is served by a second, fresh one, like gunicorn after a
restart. bench/bench_first_request.py measures the time; this test holds the
imports that time depends on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

SETUP = r"""
import cai_web.wsgi  # noqa: F401
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from cai_web.models import Membership, Team
from constitutions import services as cs
from constitutions.content import DEMO_CONSTITUTION
user = get_user_model().objects.create_user("w", password="x")
team = Team.objects.create(name="T", slug="t")
Membership.objects.create(team=team, user=user, role="owner")
cs.constitution_create(team=team, user=user, name="C", content=DEMO_CONSTITUTION)
"""

SERVE = r"""
import json, sys
import cai_web.wsgi  # noqa: F401  (django.setup(), as gunicorn does)
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username="w"))
codes = {url: client.get(url).status_code for url in ("/t/t/", "/t/t/runs/", "/t/t/constitutions/")}
loaded = sorted(m for m in ("celery", "kombu", "amqp", "numpy", "torch", "scipy") if m in sys.modules)
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def _python(script: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def test_the_first_pages_of_a_fresh_web_process_load_neither_celery_nor_numpy(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "CAI_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "DJANGO_SETTINGS_MODULE": "cai_web.settings",
    }
    _python(SETUP, env)
    report = json.loads(_python(SERVE, env).strip().splitlines()[-1])
    assert set(report["codes"].values()) == {200}, report
    assert report["loaded"] == [], report


def test_tasks_are_bound_to_the_configured_app_whoever_imports_them_first() -> None:
    from cai_web.celery import app
    from training import tasks

    assert tasks.run_shard.app is app and tasks.reap_stale_runs.app is app
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
