"""Benchmark: a fresh web process, from interpreter start to its first dashboard render.

    .venv/bin/python bench/bench_first_request.py [--repo PATH] [--repeat 7]

What a user waits for after a deploy or a worker restart: the interpreter starts,
Django is set up as gunicorn does (``import cai_web.wsgi``), and the first request —
the team dashboard, through Django's test client, logged in — loads the URLconf,
every view module and what they import, then renders. Before each measurement a
fresh ``python -c`` is started; the figure is the wall time from just before it is
spawned to just after the response is complete (reported by the child), so it
includes the interpreter's own start-up. One warm-up run (which writes the .pyc
files) is discarded; the median and the spread of ``--repeat`` runs are printed.

Data, made once per invocation through the services the app itself uses, in a
temporary SQLite database: one user, one team (owner), the demo constitution as a
draft, and a label set of 20 AI-judged pairs with a review queue — so the dashboard's
constitution and label-set panels have something to show.

``--repo`` points at another checkout of the project (for example the commit before
a change, exported to /tmp/before with .venv symlinked) and measures that instead;
the script itself needs nothing from the tree it measures but its public services.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETUP = r"""
import cai_web.wsgi  # noqa: F401
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from cai_web.models import Membership, Team
from constitutions import services as cs
from constitutions.content import DEMO_CONSTITUTION
from labelling import services as ls
from labelling.formats import LabelRecord

user = get_user_model().objects.create_user("bench", password="bench")
team = Team.objects.create(name="Bench", slug="bench")
Membership.objects.create(team=team, user=user, role="owner")
cs.constitution_create(team=team, user=user, name="Demo", content=DEMO_CONSTITUTION)
records = [
    LabelRecord(id=f"p{i}", prompt=f"Question {i}?", response_a=f"Answer alpha {i}",
                response_b=f"Answer beta {i}", judge="bench-judge", verdict_ab="a",
                verdict_ba="b" if i % 3 else "a", p_a_ab=0.7, p_a_ba=0.2 + 0.03 * i)
    for i in range(20)
]
label_set = ls.labelset_create_from_pairs(team=team, user=user, name="Bench set", records=records)
ls.queue_create(label_set=label_set, user=user, strategy="uniform", sample_size=10, seed=1)
"""

MEASURE = r"""
import time
t0 = time.perf_counter()
import json, sys
import cai_web.wsgi  # noqa: F401  (django.setup(), as gunicorn does)
t_setup = time.perf_counter()
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username="bench"))
t_login = time.perf_counter()
response = client.get("/t/bench/")
t_done = time.perf_counter()
assert response.status_code == 200, response.status_code
assert b"Bench set" in response.content  # the label-set panel rendered
heavy = sorted(m for m in ("statsmodels", "scipy", "pandas", "torch", "transformers") if m in sys.modules)
print(json.dumps({"end": time.time(), "setup": t_setup - t0, "login": t_login - t_setup,
                  "request": t_done - t_login, "heavy": heavy}))
"""


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cai_web.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CAI_VAR_DIR": str(tmp / "var"),
        "CELERY_BROKER_URL": "filesystem://",
        "DEBUG": "0",
    }


def _run(repo: Path, python: str, script: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [python, "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        sys.exit(f"child failed in {repo}:\n{result.stderr[-4000:]}")
    return result.stdout


def measure_once(repo: Path, python: str, env: dict[str, str]) -> dict:
    started = time.time()
    report = json.loads(_run(repo, python, MEASURE, env).strip().splitlines()[-1])
    report["total"] = report.pop("end") - started
    return report


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--repeat", type=int, default=7, help="measured runs after one warm-up")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter (default: the one running this)"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-first-request-") as tmp:
        env = _env(Path(tmp))
        _run(repo, args.python, SETUP, env)
        measure_once(repo, args.python, env)  # warm-up: writes .pyc files
        runs = [measure_once(repo, args.python, env) for _ in range(args.repeat)]
    totals = [r["total"] for r in runs]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"repo     {repo}")
    print(f"machine  {os.cpu_count()} CPU(s), {_cpu()}; Python {platform.python_version()}")
    print(f"date     {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"runs     {args.repeat} (after one warm-up)")
    print(
        f"first dashboard render, interpreter start to response: median {statistics.median(totals):.3f} s "
        f"(min {min(totals):.3f}, max {max(totals):.3f})"
    )
    print(
        f"  of which: django.setup {med('setup'):.3f} s, login {med('login'):.3f} s, "
        f"first request (URLconf, views, render) {med('request'):.3f} s"
    )
    print(f"heavy modules loaded: {', '.join(runs[-1]['heavy']) or 'none'}")


if __name__ == "__main__":
    main()
