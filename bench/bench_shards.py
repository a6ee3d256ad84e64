"""Scale-out benchmark: one Celery worker process against two, on the same sharded run.

    .venv/bin/python bench/bench_shards.py [--prompts 16] [--shard-size 4] [--max-new-tokens 16]
        [--threads-per-worker 1] [--model PATH] [--kind critique_revision|labelling]

Sets up a throw-away SQLite database and filesystem broker in a temporary folder,
creates the demo team objects (published demo constitution, the first N HH-RLHF
red-team prompts, the demo model), then for each worker count W in (1, 2): starts W
real ``celery -A cai_web.celery worker -Q default,gpu -P solo --concurrency=1`` processes,
launches a critique-revision run split into shards, and times it from launch until
the last shard settles the run. Each worker is pinned to ``--threads-per-worker``
torch threads so W workers use W cores: on a 2-core machine the ideal ratio is 2.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--shard-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument(
        "--kind",
        choices=("critique_revision", "labelling"),
        default="critique_revision",
        help="labelling: the demo model answers twice and judges itself under another name",
    )
    parser.add_argument("--model", default=str(ROOT / "var" / "models" / "smollm2-135m-instruct"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    os.environ.update(
        CAI_VAR_DIR=str(tmp / "var"),
        DATABASE_URL=f"sqlite:///{tmp / 'bench.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        DJANGO_SETTINGS_MODULE="cai_web.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from cai_web.models import Membership, Team
    from constitutions import services as cs
    from constitutions.content import DEMO_CONSTITUTION
    from training import services
    from training.engine.critique_revision import CritiqueRevisionConfig
    from training.engine.types import SamplingParams
    from training.models import Run

    user = get_user_model().objects.create_user("bench")
    team = Team.objects.create(name="Bench", slug="bench")
    Membership.objects.create(team=team, user=user, role="owner")
    version = cs.version_publish(
        version=cs.constitution_create(
            team=team, user=user, name="Demo", content=DEMO_CONSTITUTION
        ),
        user=user,
        changelog="bench",
    )
    with gzip.open(
        Path(settings.SHARED_DATA_DIR) / "hh-rlhf-harmless-base-test.jsonl.gz", "rt"
    ) as fh:
        lines = [next(fh) for _ in range(args.prompts * 2)]
    prompt_set = services.promptset_import(
        team=team,
        user=user,
        name="red team",
        data="".join(lines).encode(),
        filename="hh.jsonl",
        held_out_fraction=0.0,
        limit=args.prompts,
    )
    # Models are registered from under the model roots: link (or copy) the folder there.
    models_dir = Path(settings.VAR_DIR) / "models" / Path(args.model).name
    models_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(args.model, models_dir, copy_function=_link_or_copy)
    model = services.model_register(team=team, user=user, name="demo", path=str(models_dir))
    # A different entry for the judge, so the worker loads two models as with policy != judge.
    judge = services.model_register(team=team, user=user, name="demo-judge", path=str(models_dir))
    params = SamplingParams(temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens)
    config = CritiqueRevisionConfig(
        rounds=args.rounds,
        few_shot=False,
        answer=params,
        critique=params,
        revision=params,
        seed=0,
        batch_size=args.batch_size,
    )

    results: dict[int, float] = {}
    for count in (int(c) for c in args.workers.split(",")):
        workers = [
            start_worker(tmp, f"w{count}-{i}", args.threads_per_worker) for i in range(count)
        ]
        try:
            for process, log in workers:
                wait_ready(process, log)
            started = time.monotonic()
            if args.kind == "labelling":
                inputs = {
                    "version": version,
                    "prompt_set": prompt_set,
                    "prompt_selection": "all",
                    "policy": model,
                    "judge": judge,
                }
                options = {
                    "seed": 0,
                    "temperature": 0.7,
                    "max_new_tokens": args.max_new_tokens,
                    "batch_size": args.batch_size,
                }
            else:
                inputs = {
                    "version": version,
                    "prompt_set": prompt_set,
                    "model": model,
                    "prompt_selection": "all",
                }
                options = config.to_dict()
            run = services.run_start(
                kind=args.kind,
                team=team,
                user=user,
                inputs=inputs,
                config=options,
                shard_size=args.shard_size,
                name=f"{args.kind} {count} worker(s)",
            )
            while not Run.objects.get(pk=run.pk).is_finished:
                time.sleep(0.2)
            wall = time.monotonic() - started
        finally:
            for process, _ in workers:
                process.send_signal(signal.SIGTERM)
            for process, _ in workers:
                process.wait(timeout=60)
        run.refresh_from_db()
        hosts = sorted(set(run.shards.values_list("worker", flat=True)))
        assert run.status == "succeeded", run.error
        results[count] = wall
        print(
            f"{count} worker(s): {wall:6.1f} s wall for {run.examples_total} prompts "
            f"({run.shards.count()} shards, {run.total_units} {run.spec.progress_unit}, "
            f"{run.completion_tokens} tokens) on {hosts}",
            flush=True,
        )
        for shard in run.shards.order_by("index"):
            offset = (shard.started_at - run.created_at).total_seconds()
            took = (shard.finished_at - shard.started_at).total_seconds()
            print(
                f"   shard {shard.index} on {shard.worker}: started +{offset:.1f} s, took {took:.1f} s"
            )
    print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if 1 in results and 2 in results:
        print(f"speed-up with 2 workers: {results[1] / results[2]:.2f}x (ideal on 2 cores: 2x)")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def start_worker(tmp: Path, name: str, threads: int) -> tuple[subprocess.Popen, Path]:
    log = tmp / f"{name}.log"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "cai_web.celery",
        "worker",
        "-Q",
        "default,gpu",
        "--concurrency=1",
        "-P",
        "solo",
        "--prefetch-multiplier=1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@bench",
        "--loglevel=INFO",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    return process, log


def wait_ready(process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while "ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
