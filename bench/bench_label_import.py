"""Benchmark: importing a 1,000,000-label JSONL file into PostgreSQL, as the worker does.

    .venv/bin/python bench/bench_label_import.py [--labels 1000000] [--gzip] [--batch 10000]

Writes a JSONL label file of ``--labels`` records (one judge, both orders, with
probabilities; every 50th with a human verdict) under ``/tmp``, creates (once) the
database ``cai_web_bench_import`` on BENCH_PG (default postgres://postgres@127.0.0.1:5432)
and migrates it, then runs the import job's own service
(``labelling.services.imports.labelset_import_run``: check every line, then one
transaction in batches) and prints the time of each stage and labels per second.
Target: >= 20,000 labels/s. The set is deleted afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = "cai_web_bench_import"
VERDICTS = ("a", "b", "tie")


def ensure_database(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def write_file(path: Path, n: int, use_gzip: bool) -> None:
    rng = random.Random(0)
    opener = gzip.open if use_gzip else open
    with opener(path, "wt", encoding="utf-8") as out:  # type: ignore[operator]
        for i in range(n):
            p_ab, p_ba = rng.random(), rng.random()
            row = {
                "id": f"r{i}",
                "prompt": f"Prompt {i}: how should an assistant answer question {i % 977}?",
                "response_a": f"A careful answer number {i} that declines the harmful part.",
                "response_b": f"A different answer number {i} that goes into detail.",
                "judge": "judge-7b",
                "verdict_ab": "a" if p_ab > 0.5 else "b",
                "verdict_ba": "a" if p_ba > 0.5 else "b",
                "p_a_ab": round(p_ab, 4),
                "p_a_ba": round(p_ba, 4),
            }
            if i % 50 == 0:
                row["human"] = rng.choice(VERDICTS)
            out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--db", default=DB_NAME, help=f"database name (default {DB_NAME})")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the import here")
    args = parser.parse_args()

    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    os.environ["DATABASE_URL"] = ensure_database(base, args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from cai_web.models import Team
    from labelling.models import FileJob, LabelSet
    from labelling.services.filejobs import filejob_create
    from labelling.services.imports import labelset_import_run

    call_command("migrate", verbosity=0)
    path = Path(f"/tmp/bench_label_import_{args.labels}.jsonl{'.gz' if args.gzip else ''}")
    if not path.exists():
        t = time.perf_counter()
        write_file(path, args.labels, args.gzip)
        print(
            f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s"
        )
    team, _ = Team.objects.get_or_create(slug="bench-import", defaults={"name": "Bench import"})
    user, _ = get_user_model().objects.get_or_create(username="bench-import")
    LabelSet.objects.filter(team=team).delete()
    # The job reads a copy: a finished job removes its upload, as after a real upload.
    upload = Path(f"/tmp/bench_label_import_upload{path.suffix}")
    upload.write_bytes(path.read_bytes())
    job = filejob_create(
        team=team,
        user=user,
        kind=FileJob.Kind.LABEL_IMPORT,
        params={
            "name": "bench",
            "format": "jsonl",
            "judge": "",
            "dataset": "",
            "principle_version": None,
            "description": "",
        },
        upload_path=str(upload),
        upload_name=path.name,
    )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]

    def backend_cpu() -> float:
        """CPU seconds of this connection's PostgreSQL server process (same host)."""
        try:
            fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    load = os.getloadavg()
    pg_cpu = backend_cpu()
    start, cpu = time.perf_counter(), time.process_time()
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        job = profiler.runcall(labelset_import_run, job.pk, batch_size=args.batch)
        profiler.dump_stats(args.profile)
    else:
        job = labelset_import_run(job.pk, batch_size=args.batch)
    end, cpu = time.perf_counter(), time.process_time() - cpu
    pg_cpu = backend_cpu() - pg_cpu
    assert job is not None and job.status == "done", (job and job.status, job and job.error)
    label_set = LabelSet.objects.get(pk=job.result_id)
    assert label_set.ai_label_count == args.labels == label_set.comparison_count
    print(
        f"{args.labels:,} labels ({'gzip' if args.gzip else 'plain'}), batch {args.batch}: "
        f"{end - start:.1f} s ({cpu:.1f} s CPU in this process, {pg_cpu:.1f} s in its "
        "PostgreSQL server process, the rest waiting for a core or the disk)"
    )
    print(f"{args.labels / (end - start):,.0f} labels/s")
    print(
        f"load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"after {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    label_set.delete()


if __name__ == "__main__":
    main()
