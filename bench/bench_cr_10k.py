"""Benchmark: a 10,000-prompt critique–revision run through real Celery workers.

    .venv/bin/python bench/bench_cr_10k.py [--prompts 10000] [--shard-size 256]
        [--batch-size 64] [--max-new-tokens 8] [--workers 1] [--db cai_bench_cr]

A tiny random-weight Llama (2 layers, width 64, the demo model's tokenizer) so the
figure is the product's own overhead (database, broker, engine), not the model's.
PostgreSQL database ``--db`` (made afresh on BENCH_PG, default
postgres://postgres@127.0.0.1:5432), the broker of CELERY_BROKER_URL (default
redis://127.0.0.1:6379/15). The prompts are the HH-RLHF harmless-base test set's
first human turns from the shared data, numbered to make them unique, imported as one
prompt set. ``--workers`` real ``celery worker -Q default,gpu -P solo`` processes
take the shards; each records, per shard, its database queries, the batches it saved,
the queries between two saved batches, and its memory (``bench/cr_worker_hooks.py``).
Prints the wall time from launch to the run's end, examples/s, the per-batch query
counts of every shard and the workers' resident memory after their first and last
shard. Targets: queries per batch constant, worker memory flat.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_database(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def tiny_llama(dest: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from training.engine.demo_model import demo_tokenizer

    tok_dir = demo_tokenizer(dest.parent / "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(1234)
    LlamaForCausalLM(config).save_pretrained(dest)
    for item in tok_dir.iterdir():
        if item.is_file():
            shutil.copy2(item, dest / item.name)
    return dest


def prompt_lines(n: int, data_dir: Path) -> list[str]:
    firsts = []
    with gzip.open(data_dir / "hh-rlhf-harmless-base-test.jsonl.gz", "rt") as fh:
        for line in fh:
            text = json.loads(line)["chosen"]
            first = text.split("\n\nHuman:", 1)[-1].split("\n\nAssistant:", 1)[0].strip()
            if first and "\n" not in first:
                firsts.append(first)
    return [f"{firsts[i % len(firsts)]} (case {i})" for i in range(n)]


def start_worker(tmp: Path, name: str, log_path: Path) -> tuple[subprocess.Popen, Path]:
    log = tmp / f"{name}.log"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CR_BENCH_LOG": str(log_path),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "cai_web.celery",
        "worker",
        "-I",
        "bench.cr_worker_hooks",
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
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT), log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", default="cai_bench_cr")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-cr10k-"))
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    os.environ.update(
        CAI_VAR_DIR=str(tmp / "var"),
        DATABASE_URL=fresh_database(base, args.db),
        DJANGO_SETTINGS_MODULE="cai_web.settings",
    )
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from cai_web.models import Membership, Team
    from constitutions import services as cs
    from constitutions.content import DEMO_CONSTITUTION
    from training import services
    from training.engine.critique_revision import CritiqueRevisionConfig
    from training.engine.types import SamplingParams
    from training.models import Example, ExampleRound, Run

    call_command("migrate", verbosity=0)
    from cai_web.celery import app

    app.control.purge()
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
    lines = prompt_lines(args.prompts, Path(settings.SHARED_DATA_DIR))
    prompt_set = services.promptset_import(
        team=team,
        user=user,
        name="red team 10k",
        data="\n".join(lines).encode(),
        filename="prompts.txt",
        held_out_fraction=0.0,
    )
    model_dir = tiny_llama(Path(settings.VAR_DIR) / "models" / "tiny-llama")
    model = services.model_register(team=team, user=user, name="tiny", path=str(model_dir))
    params = SamplingParams(temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens)
    config = CritiqueRevisionConfig(
        rounds=1,
        few_shot=False,
        answer=params,
        critique=params,
        revision=params,
        seed=0,
        batch_size=args.batch_size,
    )
    log_path = tmp / "shards.jsonl"
    workers = [start_worker(tmp, f"cr{i}", log_path) for i in range(args.workers)]
    try:
        for process, log in workers:
            deadline = time.monotonic() + 300
            while "ready." not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"worker did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        load_before = os.getloadavg()
        started = time.monotonic()
        run = services.run_start(
            kind="critique_revision",
            team=team,
            user=user,
            inputs={
                "version": version,
                "prompt_set": prompt_set,
                "model": model,
                "prompt_selection": "all",
            },
            config=config.to_dict(),
            shard_size=args.shard_size,
            name="10k",
        )
        last = 0.0
        while not Run.objects.get(pk=run.pk).is_finished:
            time.sleep(1.0)
            if time.monotonic() - last > 60:
                last = time.monotonic()
                r = Run.objects.get(pk=run.pk)
                print(
                    f"  +{last - started:5.0f} s: {r.done_units}/{r.total_units} generations, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        wall = time.monotonic() - started
        load_after = os.getloadavg()
    finally:
        for process, _ in workers:
            process.send_signal(signal.SIGTERM)
        for process, _ in workers:
            process.wait(timeout=120)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    n_examples = Example.objects.filter(run=run).count()
    n_revised = ExampleRound.objects.filter(example__run=run, revision__isnull=False).count()
    assert n_examples == n_revised == args.prompts, (n_examples, n_revised)
    shards = [json.loads(line) for line in log_path.read_text().splitlines()]
    print(
        f"{args.prompts:,} prompts, {run.shards.count()} shards of {args.shard_size}, batch "
        f"{args.batch_size}, {args.workers} worker(s): {wall:.1f} s wall, "
        f"{args.prompts / wall:.1f} examples/s, {run.total_units / wall:.1f} generations/s"
    )
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f}; after "
        f"{load_after[0]:.2f} {load_after[1]:.2f} on {os.cpu_count()} cores"
    )
    gaps = sorted({g for s in shards for g in s["between_batches"]})
    setup = sorted({s["before_first_batch"] for s in shards})
    per_batch = sorted({round(s["queries"] / s["batches"], 2) for s in shards if s["batches"]})
    print(
        f"queries between two saved batches, over all {len(shards)} shards: {gaps}; "
        f"before a shard's first batch: {setup}; per batch (shard total / batches): "
        f"{per_batch[0]}-{per_batch[-1]}"
    )
    rss = [s["rss_kib"] / 1024 for s in shards]
    print(
        f"worker resident memory after shard 1: {rss[0]:.0f} MiB, after the median shard "
        f"{sorted(rss)[len(rss) // 2]:.0f} MiB, after the last: {rss[-1]:.0f} MiB "
        f"(max RSS {max(s['max_rss_kib'] for s in shards) / 1024:.0f} MiB)"
    )
    print(f"per-shard records: {log_path}")


if __name__ == "__main__":
    main()
