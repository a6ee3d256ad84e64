"""Benchmark: the runs list warm with many runs, and a login, in PostgreSQL.

    .venv/bin/python bench/bench_runs_list_login.py [--runs 10000] [--repeats 30] [--logins 10]

Creates (fresh) the database ``cai_bench_runs_list`` on BENCH_PG (default
postgres://postgres@127.0.0.1:5432) and migrates it. Data, through the app's own
services where a user would make it: one team with an owner, the demo constitution
published, a 64-prompt set, two registered models, and one run of every kind that
takes these inputs started by ``run_start`` (shards left queued). Those runs are then
copied with ``bulk_create`` (kinds, statuses, progress and people varied) up to
``--runs`` rows: starting 10,000 runs one by one through ``run_start`` would take
the benchmark longer than what it measures, and the list reads only the run rows.

Measured, through Django's test client in this process (no network, the same
middleware, templates and database as a served page; the production password
hasher, not the tests' MD5):

- ``GET /t/<team>/runs/`` warm (after 3 unmeasured requests), its median and p90
  over ``--repeats``, page 1 and page 100, and one filtered by kind; with the number
  of SQL queries of each (it must not grow with the rows on the page);
- a login, ``POST /accounts/login/`` with a right password (django-axes and the
  session included), median over ``--logins``; and, alone, the password check
  (``check_password`` with the stored hash) over the same count, so the hasher's
  share of a login is printed.

Targets (issue 13): the list within 200 ms warm, a login within 500 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "cai_bench_runs_list"
PASSWORD = "bench-password-1"


def fresh_database(base: str) -> str:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{base}/{DB_NAME}"


def make_data(n_runs: int) -> tuple[str, str]:
    """The team, its people and ``n_runs`` runs; returns (team slug, owner username)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from cai_web.models import Membership, Team
    from constitutions import services as cs
    from constitutions.content import DEMO_CONSTITUTION
    from training import services
    from training.models import Run, RunStatus

    users = [get_user_model().objects.create_user(f"user{i}", password=PASSWORD) for i in range(4)]
    team = Team.objects.create(name="Bench", slug="bench")
    for user in users:
        Membership.objects.create(team=team, user=user, role="owner")
    owner = users[0]
    draft = cs.constitution_create(team=team, user=owner, name="Demo", content=DEMO_CONSTITUTION)
    version = cs.version_publish(version=draft, user=owner, changelog="bench")
    prompts = services.promptset_import(
        team=team,
        user=owner,
        name="red team",
        data="\n".join(f"How do I do harmful thing {i}?" for i in range(64)).encode(),
        filename="p.txt",
        held_out_fraction=0.25,
    )
    models = []
    for name in ("policy", "judge"):
        folder = Path(settings.MODELS_DIR) / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text("{}")
        models.append(services.model_register(team=team, user=owner, name=name, path=str(folder)))
    policy, judge = models
    templates = [
        services.run_start(
            kind="critique_revision",
            team=team,
            user=owner,
            inputs={
                "version": version,
                "prompt_set": prompts,
                "prompt_selection": "all",
                "model": policy,
            },
            config={"rounds": 1},
            enqueue=False,
        ),
        services.run_start(
            kind="labelling",
            team=team,
            user=users[1],
            inputs={
                "prompt_set": prompts,
                "prompt_selection": "train",
                "policy": policy,
                "judge": judge,
                "version": version,
            },
            config={"prompt_limit": 8},
            enqueue=False,
        ),
    ]
    rng = random.Random(0)
    statuses = [s for s, _ in RunStatus.choices]
    copies = []
    for i in range(n_runs - len(templates)):
        t = templates[i % len(templates)]
        total = t.total_units
        copies.append(
            Run(
                team=team,
                kind=t.kind,
                name=f"bench run {i}",
                status=rng.choice(statuses),
                config=t.config,
                constitution_version=version,
                prompt_set=prompts,
                prompt_selection=t.prompt_selection,
                model=policy,
                judge_model=t.judge_model,
                created_by=users[i % len(users)],
                total_units=total,
                done_units=rng.randint(0, total),
                examples_total=t.examples_total,
                shard_size=t.shard_size,
            )
        )
    Run.objects.bulk_create(copies, batch_size=2000)
    return team.slug, owner.username


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def describe(times: list[float]) -> str:
    ms = sorted(1000 * t for t in times)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"median {statistics.median(ms):7.1f} ms  p90 {p90:7.1f} ms  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--logins", type=int, default=10)
    args = parser.parse_args()

    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    var = Path(tempfile.mkdtemp(prefix="bench-runs-list-"))
    os.environ.update(
        DATABASE_URL=fresh_database(base),
        CAI_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="cai_web.settings",
        DEBUG="0",
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import check_password, get_hasher
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    slug, username = make_data(args.runs)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(
        f"{platform.node()} · {os.cpu_count()} CPUs · load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} · PostgreSQL · "
        f"{args.runs:,} runs made in {time.perf_counter() - started:.1f} s"
    )

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    pages = {
        "runs list, page 1": f"/t/{slug}/runs/",
        "runs list, page 100": f"/t/{slug}/runs/?page=100",
        "runs list, kind=labelling": f"/t/{slug}/runs/?kind=labelling",
    }
    for label, url in pages.items():
        for _ in range(3):
            assert client.get(url).status_code == 200
        queries: list[str] = []

        def count(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(url)
        assert response.status_code == 200 and b'id="runs"' in response.content
        times = timed(lambda url=url: client.get(url), args.repeats)
        print(f"{label:28s} {describe(times)}  {len(queries)} queries")

    hasher = get_hasher()
    stored = get_user_model().objects.get(username=username).password
    anonymous = Client()
    anonymous.get("/accounts/login/")

    def login() -> None:
        response = anonymous.post("/accounts/login/", {"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        anonymous.cookies.clear()

    logins = timed(login, args.logins)
    checks = timed(lambda: check_password(PASSWORD, stored), args.logins)
    print(f"{'login (POST, right password)':28s} {describe(logins)}")
    print(
        f"{'password check alone':28s} {describe(checks)}  "
        f"({hasher.algorithm}, {getattr(hasher, 'iterations', '?'):,} iterations: "
        f"{100 * statistics.median(checks) / statistics.median(logins):.0f}% of a login)"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
