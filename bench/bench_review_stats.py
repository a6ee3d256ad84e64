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


def ensure_database(base: str) -> str:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{base}/{DB_NAME}"


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


def load(reload: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from cai_web.models import Membership, Team
    from labelling import services, stats
    from labelling.models import LabelSet

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

    reviewed_once = set(range(1, N_SINGLE + 1))
    reviewed_twice = set(range(N_SINGLE + 1, N_SINGLE + N_DOUBLE + 1))
    truth = {}
    mirrored: dict[int, tuple[bool, str | None]] = {}  # AILabel.reviewed, AILabel.human_verdict
    with connection.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM labelling_comparison")
        offset = cur.fetchone()[0]
    raw = connection.connection  # the psycopg connection
    with transaction.atomic():
        with raw.cursor() as cur:
            with cur.copy(
                "COPY labelling_comparison (id, label_set_id, external_id, prompt, response_a, response_b, "
                "principle_key, category, metadata, flagged_harmful, human_verdict, review_count) FROM STDIN"
            ) as copy:
                for i in range(1, N_COMPARISONS + 1):
                    cat, key = PRINCIPLES[i % len(PRINCIPLES)]
                    human = (
                        rng.choice("ab") if (i in reviewed_once or i in reviewed_twice) else None
                    )
                    truth[i] = human
                    n_rev = 1 if i in reviewed_once else 2 if i in reviewed_twice else 0
                    # Two reviewers who disagree leave no strict majority; most agree.
                    second = human if rng.random() < 0.8 else ("b" if human == "a" else "a")
                    if n_rev == 2:
                        truth[i] = (human, second)
                    consensus = (
                        human if n_rev == 1 else (human if n_rev == 2 and second == human else None)
                    )
                    mirrored[i] = (n_rev > 0, consensus)
                    copy.write_row(
                        (
                            offset + i,
                            label_set.pk,
                            f"c{i}",
                            f"Prompt {i}: how should an assistant respond to a request about {key}?",
                            f"Answer A {i}: a careful, honest reply that follows {key}.",
                            f"Answer B {i}: a different reply that may ignore {key}.",
                            key,
                            cat,
                            "{}",
                            i % 997 == 0,
                            consensus,
                            n_rev,
                        )
                    )
            print(f"comparisons copied in {time.perf_counter() - t0:.1f}s")
            with cur.copy(
                "COPY labelling_ailabel (label_set_id, comparison_id, judge, principle_key, category, verdict_ab, "
                "verdict_ba, p_a_ab, p_a_ba, consistent, preferred_slot, p_debiased, confidence, final, rule, "
                "reviewed, human_verdict) FROM STDIN"
            ) as copy:
                for i in range(1, N_COMPARISONS + 1):
                    cat, key = PRINCIPLES[i % len(PRINCIPLES)]
                    for judge in JUDGES:
                        v_ab, v_ba, p_ab, p_ba = judge_row(rng, judge)
                        d = stats.derive_label(v_ab, v_ba, p_ab, p_ba)
                        conf = None if d.p_debiased is None else max(d.p_debiased, 1 - d.p_debiased)
                        copy.write_row(
                            (
                                label_set.pk,
                                offset + i,
                                judge,
                                key,
                                cat,
                                v_ab,
                                v_ba,
                                p_ab,
                                p_ba,
                                d.consistent,
                                d.preferred_slot,
                                d.p_debiased,
                                conf,
                                d.final,
                                d.rule,
                                *mirrored[i],
                            )
                        )
            print(f"AI labels copied in {time.perf_counter() - t0:.1f}s")
            with cur.copy(
                "COPY labelling_humanreview (comparison_id, label_set_id, reviewer_id, reviewer_name, source, "
                "verdict, shown_order, flag_harmful, flag_principle_misapplied, flag_ai_wrong, note, created_at) FROM STDIN"
            ) as copy:
                for i, verdicts in truth.items():
                    if verdicts is None:
                        continue
                    pair = verdicts if isinstance(verdicts, tuple) else (verdicts,)
                    reviewers = rng.sample(users[1:], len(pair))
                    for user, verdict in zip(reviewers, pair, strict=True):
                        copy.write_row(
                            (
                                offset + i,
                                label_set.pk,
                                user.pk,
                                user.username,
                                "app",
                                verdict,
                                rng.choice(["ab", "ba"]),
                                False,
                                False,
                                False,
                                "",
                                "2026-11-27T00:00:00Z",
                            )
                        )
        with connection.cursor() as cur:
            for table in ("labelling_comparison", "labelling_ailabel", "labelling_humanreview"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
        LabelSet.objects.filter(pk=label_set.pk).update(comparison_count=N_COMPARISONS)
        services.labelset_refresh_tallies(label_set=label_set)
    print(f"reviews copied, tallies built in {time.perf_counter() - t0:.1f}s")
    with connection.cursor() as cur:
        # Outside the load's transaction: visibility map for index-only scans, fresh stats.
        for table in ("labelling_comparison", "labelling_ailabel", "labelling_humanreview"):
            cur.execute(f"VACUUM ANALYZE {table}")
    print(f"loaded in {time.perf_counter() - t0:.1f}s")


def ensure_queue():
    """The bench auditor works through a 1,000-item queue and is 400 items in."""
    from django.db import connection

    from labelling import services
    from labelling.models import LabelSet, ReviewQueue

    label_set = LabelSet.objects.get(name="bench")
    queue = ReviewQueue.objects.filter(label_set=label_set).order_by("-pk").first()
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
    args = parser.parse_args()

    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    os.environ["DATABASE_URL"] = ensure_database(base)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from labelling.models import AILabel, HumanReview, LabelSet

    call_command("migrate", verbosity=0)
    load(args.reload)
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
