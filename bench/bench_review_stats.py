"""Benchmark: the statistics page and the next review item on a large label set in PostgreSQL.

    .venv/bin/python bench/bench_review_stats.py [--reload] [--requests 20]

Creates (once) the database ``cai_web_bench`` on BENCH_PG (default
postgres://postgres@127.0.0.1:5432), migrates it, and bulk-loads with COPY one label
set of 500,000 comparisons judged by two judges (1,000,000 AI labels, derived fields
from ``labelling.stats.derive_label``) and 20,000 human reviews (16,000 comparisons
reviewed once, 2,000 twice). Then it times, with Django's test client, ~20 requests
each of the statistics page (whole set, sliced, broken down) and of the next review
item (htmx and full page) and prints the medians. Targets: statistics <= 300 ms,
next item <= 50 ms.
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

N_COMPARISONS = 500_000
JUDGES = ("judge-large", "judge-small")
N_SINGLE, N_DOUBLE = 16_000, 2_000  # reviewed once / twice: 20,000 reviews
N_REVIEWERS = 20
QUEUE_SIZE = 1_000
ALREADY_REVIEWED = 400  # the bench auditor's progress through the queue
CATEGORIES = {
    "harm": ["dangerous-assistance", "people-at-risk", "violence", "weapons"],
    "honesty": ["no-fabrication", "calibrated", "admit-uncertainty", "cite"],
    "privacy": ["no-doxxing", "consent", "minimise-data", "anonymise"],
    "helpfulness": ["answer-the-question", "concise", "actionable", "kind"],
}
PRINCIPLES = [(cat, key) for cat, keys in CATEGORIES.items() for key in keys]
DB_NAME = "cai_web_bench"


def ensure_database(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def judge_row(rng: random.Random, judge: str):
    """Two-order verdicts of a judge that leans to the first slot."""
    lean = 0.12 if judge == "judge-large" else 0.2
    if rng.random() < 0.015:
        return None, rng.choice(["a", "b"]), None, None
    base = rng.betavariate(2, 2)
    p_ab = min(1.0, max(0.0, base + lean + rng.gauss(0, 0.08)))
    p_ba = min(1.0, max(0.0, base - lean + rng.gauss(0, 0.08)))

    def verdict(p: float) -> str:
        return "tie" if abs(p - 0.5) < 0.02 else ("a" if p > 0.5 else "b")

    return verdict(p_ab), verdict(p_ba), round(p_ab, 4), round(p_ba, 4)


def load(reload: bool, batch_labels: int) -> None:
    """Write the set through the services a labelling shard calls, then review it.

    Comparisons and AI labels go through ``comparison_bulk_create`` and
    ``ailabel_bulk_create`` (one transaction per batch of ``batch_labels`` labels, as a
    shard writes them); every human review goes through ``review_submit`` from review
    queues that hold the reviewed comparisons.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from cai_web.models import Membership, Team
    from labelling import services
    from labelling.models import Comparison, LabelSet, ReviewQueue

    existing = LabelSet.objects.filter(name="bench").first()
    if existing and existing.ai_label_count == N_COMPARISONS * len(JUDGES) and not reload:
        print(f"reusing the loaded label set {existing.pk}")
        return
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE labelling_humanreview, labelling_queueitem, labelling_reviewqueue, labelling_ailabeltally, "
            "labelling_ailabel, labelling_comparison, labelling_labelsetoverride, labelling_labelset CASCADE"
        )
    User = get_user_model()
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    users = []
    for i in range(N_REVIEWERS + 1):
        user, _ = User.objects.get_or_create(username=f"bench-reviewer-{i}")
        Membership.objects.get_or_create(team=team, user=user, defaults={"role": "auditor"})
        users.append(user)
    label_set = services.labelset_create(
        team=team, user=users[0], name="bench", source_kind="import"
    )
    rng = random.Random(2026)
    step = max(1, batch_labels // len(JUDGES))  # comparisons per batch
    times = []
    for start in range(1, N_COMPARISONS + 1, step):
        ids = range(start, min(start + step, N_COMPARISONS + 1))
        t = time.perf_counter()
        with transaction.atomic():
            services.comparison_bulk_create(
                label_set=label_set,
                comparisons=[
                    services.ComparisonInput(
                        external_id=f"c{i}",
                        prompt=f"Prompt {i}: how should an assistant respond to a request about "
                        f"{PRINCIPLES[i % len(PRINCIPLES)][1]}?",
                        response_a=f"Answer A {i}: a careful, honest reply.",
                        response_b=f"Answer B {i}: a different reply.",
                        principle_key=PRINCIPLES[i % len(PRINCIPLES)][1],
                        category=PRINCIPLES[i % len(PRINCIPLES)][0],
                        metadata={"harmful": True} if i % 997 == 0 else {},
                    )
                    for i in ids
                ],
            )
            services.ailabel_bulk_create(
                label_set=label_set,
                labels=[
                    services.AILabelInput(f"c{i}", judge, *judge_row(rng, judge))
                    for i in ids
                    for judge in JUDGES
                ],
            )
        times.append(time.perf_counter() - t)
        if len(times) % 20 == 0:
            done = (start + step - 1) * len(JUDGES)
            print(
                f"  {done:>9,} labels, this batch {times[-1]:.2f} s, "
                f"{time.perf_counter() - t0:.0f} s so far",
                flush=True,
            )
    print(
        f"{N_COMPARISONS * len(JUDGES):,} AI labels written through the services in "
        f"{time.perf_counter() - t0:.0f} s (batches of {step * len(JUDGES):,}: first "
        f"{statistics.median(times[:5]):.2f} s, last {statistics.median(times[-5:]):.2f} s)",
        flush=True,
    )
    # Human reviews through review_submit: one queue per reviewer holding what they review.
    t1 = time.perf_counter()
    reviewed = list(range(1, N_SINGLE + N_DOUBLE + 1))
    assignments: dict[int, list[tuple[int, str]]] = {u.pk: [] for u in users[1:]}
    for i in reviewed:
        human = rng.choice("ab")
        n_rev = 1 if i <= N_SINGLE else 2
        second = human if rng.random() < 0.8 else ("b" if human == "a" else "a")
        for user, verdict in zip(rng.sample(users[1:], n_rev), (human, second), strict=False):
            assignments[user.pk].append((i, verdict))
    by_ext = dict(
        Comparison.objects.filter(
            label_set=label_set, external_id__in=[f"c{i}" for i in reviewed]
        ).values_list("external_id", "pk")
    )
    from labelling.models import QueueItem

    n_reviews = 0
    for user in users[1:]:
        todo = assignments[user.pk]
        queue = ReviewQueue.objects.create(
            label_set=label_set,
            strategy="uniform",
            sample_size=len(todo),
            seed=user.pk,
            created_by=user,
        )
        QueueItem.objects.bulk_create(
            QueueItem(queue=queue, comparison_id=by_ext[f"c{i}"], position=p)
            for p, (i, _) in enumerate(todo, 1)
        )
        comparisons = Comparison.objects.in_bulk([by_ext[f"c{i}"] for i, _ in todo])
        for i, verdict in todo:
            comparison = comparisons[by_ext[f"c{i}"]]
            order = services.shown_order_for(
                seed=queue.seed, reviewer_id=user.pk, comparison_id=comparison.pk
            )
            # The choice that, in the order this reviewer is shown, means ``verdict``.
            choice = "first" if (verdict == "a") == (order == "ab") else "second"
            services.review_submit(queue=queue, comparison=comparison, reviewer=user, choice=choice)
            n_reviews += 1
    print(
        f"{n_reviews:,} reviews through review_submit in {time.perf_counter() - t1:.0f} s",
        flush=True,
    )
    with connection.cursor() as cur:
        # Visibility map for index-only scans, fresh statistics.
        for table in ("labelling_comparison", "labelling_ailabel", "labelling_humanreview"):
            cur.execute(f"VACUUM ANALYZE {table}")
    print(f"loaded in {time.perf_counter() - t0:.1f}s", flush=True)


def ensure_queue():
    """The bench auditor works through a 1,000-item queue and is 400 items in."""
    from django.db import connection

    from labelling import services
    from labelling.models import LabelSet, ReviewQueue

    label_set = LabelSet.objects.get(name="bench")
    queue = (
        ReviewQueue.objects.filter(label_set=label_set, created_by=label_set.created_by)
        .order_by("-pk")
        .first()
    )
    if queue is not None:
        return queue
    user = label_set.created_by
    queue = services.queue_create(
        label_set=label_set, user=user, strategy="uniform", sample_size=QUEUE_SIZE, seed=1
    )
    for item in queue.items.order_by("position").select_related("comparison")[:ALREADY_REVIEWED]:
        services.review_submit(
            queue=queue, comparison=item.comparison, reviewer=user, choice="first"
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return queue


def timed(client, url: str, n: int, **extra) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):  # warm up: templates, connection
        assert client.get(url, **extra).status_code == 200, url
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(url, **extra)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, **extra)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], len(ctx.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reload", action="store_true", help="load the data again")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument(
        "--batch", type=int, default=10_000, help="AI labels per ailabel_bulk_create call"
    )
    parser.add_argument("--db", default=DB_NAME, help=f"database name (default {DB_NAME})")
    args = parser.parse_args()

    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    os.environ["DATABASE_URL"] = ensure_database(base, args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from labelling.models import AILabel, HumanReview, LabelSet

    call_command("migrate", verbosity=0)
    load(args.reload, args.batch)
    queue = ensure_queue()
    label_set = LabelSet.objects.get(name="bench")
    auditor = queue.created_by
    client = Client()
    client.force_login(auditor)
    slug = label_set.team.slug
    print(
        f"data: {AILabel.objects.filter(label_set=label_set).count():,} AI labels, "
        f"{HumanReview.objects.filter(label_set=label_set).count():,} human reviews"
    )
    stats_url = reverse("labelset_stats", args=[slug, label_set.pk])
    cases = [
        ("label-set page", reverse("labelset_detail", args=[slug, label_set.pk]), {}),
        ("statistics page, whole set", stats_url, {}),
        (
            "statistics page, judge + principle slice",
            stats_url + "?judge=judge-large&principle=violence",
            {},
        ),
        ("statistics page, broken down by principle", stats_url + "?by=principle", {}),
        (
            "statistics fragment (htmx filter)",
            stats_url + "?category=harm",
            {"HTTP_HX_REQUEST": "true"},
        ),
        (
            "next review item (htmx)",
            reverse("review_next", args=[slug, queue.pk]),
            {"HTTP_HX_REQUEST": "true"},
        ),
        (
            "review item page (full)",
            reverse("review_item", args=[slug, queue.pk, ALREADY_REVIEWED + 1]),
            {},
        ),
    ]
    print(f"{'request':45} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
    for name, url, extra in cases:
        median, p90, queries = timed(client, url, args.requests, **extra)
        print(f"{name:45} {median:10.1f} {p90:8.1f} {queries:8d}")


if __name__ == "__main__":
    main()
