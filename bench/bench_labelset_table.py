"""Benchmark: the label-set page's comparison table on a million-label set in PostgreSQL.

    .venv/bin/python bench/bench_labelset_table.py [--db cai_web_bench] [--requests 20]

Uses the data of ``bench/bench_review_stats.py`` (one label set of 500,000 comparisons
judged by two judges = 1,000,000 AI labels, ~20,000 human reviews; loaded through the
services if the database does not hold it yet) and times, with Django's test client,
the label-set page (approval gate, queues and the first page of the table), its htmx
table fragment with each filter, a page deep into the set (keyset), and one
comparison's read-only page. Target (issue 9): label-set page <= 150 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_review_stats as data  # noqa: E402  (the same data and timing helper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--db", default=data.DB_NAME, help=f"database (default {data.DB_NAME})")
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()

    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    os.environ["DATABASE_URL"] = data.ensure_database(base, args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from labelling.models import AILabel, Comparison, LabelSet

    call_command("migrate", verbosity=0)
    data.load(False, args.batch)
    queue = data.ensure_queue()
    with connection.cursor() as cur:
        cur.execute("ANALYZE labelling_comparison")
    label_set = LabelSet.objects.get(name="bench")
    client = Client()
    client.force_login(queue.created_by)
    slug = label_set.team.slug
    print(
        f"data: {AILabel.objects.filter(label_set=label_set).count():,} AI labels, "
        f"{label_set.comparison_count:,} comparisons; load average {os.getloadavg()}"
    )
    page = reverse("labelset_detail", args=[slug, label_set.pk])
    middle = (
        Comparison.objects.filter(label_set=label_set)
        .order_by("pk")
        .values_list("pk", flat=True)[label_set.comparison_count // 2]
    )
    one = Comparison.objects.filter(label_set=label_set, audit_count__gt=0).first()
    htmx = {"HTTP_HX_REQUEST": "true"}
    cases = [
        ("label-set page (full, first table page)", page, {}),
        ("table: next page half-way into the set", f"{page}?after={middle}", htmx),
        ("table: position-inconsistent", f"{page}?consistency=inconsistent", htmx),
        ("table: low margin |p-0.5| < 0.05", f"{page}?margin=0.05", htmx),
        ("table: reviewed in the app", f"{page}?reviewed=yes", htmx),
        ("table: not reviewed", f"{page}?reviewed=no", htmx),
        ("table: AI vs audit disagreement", f"{page}?disagree=audit", htmx),
        ("table: one principle", f"{page}?principle=violence", htmx),
        (
            "table: inconsistent + one category",
            f"{page}?consistency=inconsistent&category=harm",
            htmx,
        ),
        ("table: text search (common word)", f"{page}?q=answer", htmx),
        ("table: text search (one id: reads every row)", f"{page}?q=c499990x", htmx),
        (
            "comparison page",
            reverse("comparison_detail", args=[slug, label_set.pk, one.pk]),
            {},
        ),
    ]
    print(f"{'request':45} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
    for name, url, extra in cases:
        median, p90, queries = data.timed(client, url, args.requests, **extra)
        print(f"{name:45} {median:10.1f} {p90:8.1f} {queries:8d}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
