"""Labeller calibration of the demo model on the CAI paper's 438 HHH comparisons.

    .venv/bin/python bench/bench_calibration.py [--pairs 0] [--shard-size 256]
        [--batch-size 8] [--k 1] [--mode logprob] [--model PATH]

Sets up a throw-away SQLite database and filesystem broker in a temporary folder, the
demo team objects (published demo constitution, the demo model converted from its
GGUF when no folder is given), imports ``../shared/data/cai-paper-evals/
438HHHEvaluations.jsonl`` as a gold set through the import service, starts one real
``celery -A cai_web.celery worker -Q default,gpu -P solo`` process, launches a
calibration run through ``run_start`` (all 438 pairs unless ``--pairs``) and times it
from launch until the last shard settles the run. Prints the figures the run page
shows, labels/s (one label = one pair judged in both orders), the machine, the date
and the load average.

On a machine too busy to finish, ``--deadline S`` cancels the run after S seconds (the
shards stop after their batch) and reports the pairs judged so far; ``--report DIR``
reports, read-only, on a bench folder left behind (e.g. while its workers still run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_shards import _link_or_copy, start_worker, wait_ready  # noqa: E402


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=0, help="first N gold pairs (0: all)")
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--k", type=int, default=1, help="principles per pair")
    parser.add_argument("--mode", choices=("logprob", "cot"), default="logprob")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--model", default="", help="a transformers folder (default: demo)")
    parser.add_argument(
        "--deadline",
        type=float,
        default=0,
        help="seconds; past them the run is cancelled and the pairs judged so far reported",
    )
    parser.add_argument(
        "--report",
        default="",
        help="only report the run of a bench folder left behind (read-only, partial figures)",
    )
    args = parser.parse_args()
    if args.report:
        _setup_django(Path(args.report))
        from training.models import Run

        report(Run.objects.get(name="bench calibration"), wall=None, args=args)
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-calibration-"))
    _setup_django(tmp)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cai_web.models import Membership, Team
    from constitutions import services as cs
    from constitutions.content import DEMO_CONSTITUTION
    from labelling import services as labelling
    from training import services
    from training.engine.demo_model import ensure_demo_model
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
    data = Path(settings.SHARED_DATA_DIR) / "cai-paper-evals" / "438HHHEvaluations.jsonl"
    gold = labelling.labelset_import(
        team=team, user=user, name="CAI 438 HHH", fmt="cai_paper", data=data.read_bytes()
    )
    models_dir = Path(settings.VAR_DIR) / "models" / "smollm2-135m-instruct"
    if args.model:
        models_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(args.model, models_dir, copy_function=_link_or_copy)
    else:
        ensure_demo_model(models_dir)
    judge = services.model_register(
        team=team,
        user=user,
        name="SmolLM2-135M-Instruct",
        path=str(models_dir),
        context_length=8192,
    )
    threads = args.threads or os.cpu_count() or 1
    load_before = os.getloadavg()
    process, log = start_worker(tmp, "calibration", threads)
    try:
        wait_ready(process, log)
        started = time.monotonic()
        run = services.run_start(
            kind="calibration",
            team=team,
            user=user,
            inputs={"label_set": gold, "judge": judge, "version": version},
            config={
                "seed": 0,
                "k_principles": args.k,
                "mode": args.mode,
                "batch_size": args.batch_size,
                "pair_limit": args.pairs,
            },
            shard_size=args.shard_size,
            name="bench calibration",
        )
        cancelled = False
        while not Run.objects.get(pk=run.pk).is_finished:
            if args.deadline and not cancelled and time.monotonic() - started > args.deadline:
                services.run_cancel(run=run, user=user)
                cancelled = True
            if process.poll() is not None:
                raise SystemExit(f"the worker exited:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        wall = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in load_before)}")
    print(f"worker torch threads {threads}")
    run.refresh_from_db()
    assert run.status in ("succeeded", "cancelled"), (run.error, log.read_text()[-3000:])
    report(run, wall=wall, args=args)
    shutil.rmtree(tmp, ignore_errors=True)


def _setup_django(folder: Path) -> None:
    os.environ.update(
        CAI_VAR_DIR=str(folder / "var"),
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        DJANGO_SETTINGS_MODULE="cai_web.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def report(run, *, wall: float | None, args) -> None:
    """The run page's figures over the pairs judged so far, and labels/s per shard."""
    from training.kinds.calibration import calibration_figures

    f = calibration_figures(run.label_set, run.result["judge_label"])

    def rate(r: dict) -> str:
        return f"{r['rate']:.1%} [{r['ci_low']:.1%}, {r['ci_high']:.1%}] ({r['k']} / {r['n']})"

    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {_cpu()}, {os.cpu_count()} cores")
    print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"run #{run.pk} {run.status}: {f['n']} of {run.examples_total} pairs judged in both "
        f"orders, config {run.config}"
    )
    total = 0
    for shard in run.shards.order_by("index"):
        end = shard.finished_at or shard.heartbeat_at
        took = (end - shard.started_at).total_seconds() if shard.started_at and end else 0.0
        total += shard.done_units
        speed = f"{shard.done_units / took:.3f} pairs/s" if took else "-"
        print(
            f"   shard {shard.index} on {shard.worker or '-'} ({shard.status}): "
            f"{shard.done_units} / {shard.total_units} pairs in {took:.1f} s, {speed}"
        )
    if wall:
        print(f"wall: {wall:.1f} s from launch to settled (model load included)")
        print(f"labels/s: {total / wall:.3f} (pairs judged in both orders)")
    print(f"accuracy (mean P(a) over both orders): {rate(f['accuracy'])}")
    print(f"accuracy (agree rule, flip = miss):    {rate(f['accuracy_final'])}")
    print(f"order-averaged accuracy (LLMBar Acc.): {f['order_averaged_accuracy']:.1%}")
    print(f"position consistency:                  {rate(f['consistency'])}")
    print(f"mean P(first slot):                    {f['mean_p_first']:.3f}")
    print("calibration bins (confidence: k / n):")
    for b in f["bins"]:
        print(
            f"   {b['lo']:.2f}-{b['hi']:.2f}: {b['k']} / {b['n']} (mean conf {b['mean_confidence']:.3f})"
        )


if __name__ == "__main__":
    main()
