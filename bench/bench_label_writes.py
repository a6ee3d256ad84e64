"""Benchmark: the cost of one AI-label batch at 0 and at 1,000,000 labels in PostgreSQL.

    .venv/bin/python bench/bench_label_writes.py [--labels 1000000] [--batch 10000] [--repeats 20]

Creates (fresh) the database ``cai_bench_label_writes`` on BENCH_PG (default
postgres://postgres@127.0.0.1:5432), migrates it, and writes one label set through
the same services a labelling shard calls (``comparison_bulk_create`` then
``ailabel_bulk_create``, in one transaction per batch): 500,000 comparisons judged
by two judges, 16 principles in 4 categories. It times (median of ``--repeats``) a
64-label batch — what a labelling shard writes per batch — on an empty set and on
the full one, both as new labels and as overwrites of stored ones, and prints the
time of each 10,000-label batch along the way. Target: the 64-label batch at 1M
within 1.2x of the one at 0 and under 50 ms. The first figures time the empty set before
the load and the full one after it; the interleaved ones alternate the two sets at the
same moment (the fair ratio).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "cai_bench_label_writes"
JUDGES = ("judge-large", "judge-small")
PRINCIPLES = [(f"cat{c}", f"principle-{c}-{k}") for c in range(4) for k in range(4)]


def fresh_database(base: str) -> str:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{base}/{DB_NAME}"


def verdicts(rng: random.Random) -> tuple[str | None, str | None, float | None, float | None]:
    if rng.random() < 0.015:
        return None, rng.choice(["a", "b"]), None, None
    p_ab, p_ba = rng.random(), rng.random()
    v = lambda p: "a" if p > 0.5 else "b" if p < 0.5 else "tie"  # noqa: E731
    return v(p_ab), v(p_ba), p_ab, p_ba


def write(
    label_set, start: int, n_comparisons: int, rng: random.Random, *, new: bool = True
) -> float:
    """One batch as a labelling shard writes it: comparisons (if new), then both judges' labels."""
    from django.db import transaction

    from labelling.services import (
        AILabelInput,
        ComparisonInput,
        ailabel_bulk_create,
        comparison_bulk_create,
    )

    ids = [f"c{i}" for i in range(start, start + n_comparisons)]
    t = time.perf_counter()
    with transaction.atomic():
        if new:
            comparison_bulk_create(
                label_set=label_set,
                comparisons=[
                    ComparisonInput(
                        external_id=ext,
                        prompt=f"Prompt {ext}",
                        response_a="first answer",
                        response_b="second answer",
                        principle_key=PRINCIPLES[i % 16][1],
                        category=PRINCIPLES[i % 16][0],
                    )
                    for i, ext in enumerate(ids, start)
                ],
            )
        ailabel_bulk_create(
            label_set=label_set,
            labels=[AILabelInput(ext, judge, *verdicts(rng)) for ext in ids for judge in JUDGES],
        )
    return (time.perf_counter() - t) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="labels per loading batch")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    os.environ["DATABASE_URL"] = fresh_database(base)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")
    os.environ.setdefault("CAI_VAR_DIR", "/tmp/bench_label_writes/var")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from cai_web.models import Team
    from labelling.models import AILabel, AILabelTally
    from labelling.services import labelset_create

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench", slug="bench")
    rng = random.Random(7)
    empty = labelset_create(team=team, user=None, name="empty", source_kind="import")
    big = labelset_create(team=team, user=None, name="big", source_kind="import")
    per_batch = 64 // len(JUDGES)  # comparisons per 64-label batch

    def batch_times(label_set, start: int, *, new: bool) -> list[float]:
        times = []
        for r in range(args.repeats):
            offset = start + r * per_batch if new else start
            times.append(write(label_set, offset, per_batch, rng, new=new))
        return times

    # The empty set: 64 new labels each time (the set grows by 64 per repeat only).
    at0_new = batch_times(empty, 0, new=True)
    at0_over = batch_times(empty, 0, new=False)
    n_comparisons = args.labels // len(JUDGES)
    step = args.batch // len(JUDGES)
    t0 = time.perf_counter()
    loading = []
    for start in range(0, n_comparisons, step):
        loading.append(write(big, 1_000_000 + start, min(step, n_comparisons - start), rng))
        if len(loading) % 10 == 0:
            done = (start + step) * len(JUDGES)
            print(f"  {done:>9,} labels: this {args.batch:,}-label batch {loading[-1]:7.0f} ms")
    print(f"loaded {args.labels:,} labels through the services in {time.perf_counter() - t0:.0f} s")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    at1m_new = batch_times(big, 5_000_000, new=True)
    at1m_over = batch_times(big, 1_000_000 + n_comparisons // 2, new=False)
    # The same moment for both sets: batches alternate between the (nearly) empty set
    # and the full one, so warm caches and the machine's load fall on both alike.
    inter_0: list[float] = []
    inter_1m: list[float] = []
    for r in range(args.repeats):
        inter_0.append(write(empty, 10_000_000 + r * per_batch, per_batch, rng))
        inter_1m.append(write(big, 20_000_000 + r * per_batch, per_batch, rng))
    big.refresh_from_db()
    print(
        f"data: {big.ai_label_count:,} AI labels in the big set "
        f"({AILabel.objects.filter(label_set=big).count():,} counted), "
        f"{AILabelTally.objects.filter(label_set=big).count()} tally rows"
    )
    print(f"{'64-label batch':34} {'median ms':>10} {'p90 ms':>8}")
    for name, times in (
        ("new labels, empty set", at0_new),
        ("new labels, 1M set", at1m_new),
        ("overwrites, empty set", at0_over),
        ("overwrites, 1M set", at1m_over),
        ("interleaved: new labels, empty set", inter_0),
        ("interleaved: new labels, 1M set", inter_1m),
    ):
        times = sorted(times)
        print(
            f"{name:34} {statistics.median(times):10.1f} {times[int(0.9 * (len(times) - 1))]:8.1f}"
        )
    print(
        f"ratio 1M / 0: new {statistics.median(at1m_new) / statistics.median(at0_new):.2f}x, "
        f"overwrites {statistics.median(at1m_over) / statistics.median(at0_over):.2f}x, "
        f"interleaved new {statistics.median(inter_1m) / statistics.median(inter_0):.2f}x; "
        f"{args.batch:,}-label batches first {statistics.median(loading[:5]):.0f} ms, "
        f"last {statistics.median(loading[-5:]):.0f} ms"
    )


if __name__ == "__main__":
    main()
