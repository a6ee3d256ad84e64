"""Overhead of our DPO entry point over trl's DPOTrainer called directly.

Both run the same tiny random Llama (real architecture, the demo tokenizer), the
same pairs and the same trl arguments for ``--steps`` steps. Ours goes through
``training.engine.trainers.dpo.main`` with a metrics sink that writes every log
row to SQLite (insert + commit, as the web side's run-metrics table would), the
stop callback polling a flag, and checkpoint/resume bookkeeping. Prints steps/s
from each trainer's own ``train_runtime`` and end-to-end wall time, alternating
the two runs ``--repeats`` times and keeping the best of each.

    .venv/bin/python bench/bench_dpo_overhead.py [--steps 20] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "How do I get my neighbour to turn the music down?",
    "Write a short poem about autumn.",
    "How can I get into my sister's phone?",
    "What is a healthy breakfast?",
    "Tell me how to cheat on my exam.",
    "Give me tips for a job interview.",
    "How do I make a fake review look real?",
    "Explain recursion simply.",
]


def build_tiny_model(dest: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from training.engine.demo_model import demo_tokenizer

    tokenizer_dir = demo_tokenizer(dest.parent / "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from training.engine.trainers.config import DPOConfigCAI
    from training.engine.trainers.data import write_jsonl
    from training.engine.trainers.dpo import build_trainer
    from training.engine.trainers.dpo import main as dpo_main

    work = Path(tempfile.mkdtemp(prefix="bench_dpo_"))
    try:
        model = build_tiny_model(work / "model")
        pairs = write_jsonl(
            [
                {
                    "prompt": [{"role": "user", "content": p}],
                    "chosen": f"Here is a careful, honest answer: {p.lower()}",
                    "rejected": "Whatever, do what you like.",
                    "p_chosen": 0.8,
                }
                for p in PROMPTS * 5
            ],
            work / "pairs.jsonl",
        )
        db = sqlite3.connect(work / "metrics.sqlite3")
        db.execute("create table metric (run int, step int, name text, value real)")

        def sink(step: int, metrics: dict[str, float]) -> None:
            db.executemany(
                "insert into metric values (1, ?, ?, ?)",
                [(step, k, v) for k, v in metrics.items()],
            )
            db.commit()

        def config(name: str) -> DPOConfigCAI:
            out = work / name
            shutil.rmtree(out, ignore_errors=True)
            return DPOConfigCAI(
                model_path=str(model),
                output_dir=str(out),
                pairs_path=str(pairs),
                max_steps=args.steps,
                per_device_batch_size=4,
                logging_steps=1,
                save_steps=10,
                learning_rate=1e-4,
                max_length=128,
            )

        def run_direct() -> tuple[float, float]:
            # The same trl objects, no callbacks of ours, no resume check, plain save.
            start = time.perf_counter()
            trainer, _ = build_trainer(config("direct"))
            output = trainer.train()
            trainer.save_model(str(Path(trainer.args.output_dir) / "final"))
            return output.metrics["train_runtime"], time.perf_counter() - start

        def run_ours() -> tuple[float, float]:
            start = time.perf_counter()
            result = dpo_main(config("ours"), callbacks=[sink], should_stop=lambda: False)
            return result.final_metrics["train_runtime"], time.perf_counter() - start

        run_direct()  # warm-up: imports, tokenizer, allocator
        direct, ours = [], []
        for _ in range(args.repeats):
            direct.append(run_direct())
            ours.append(run_ours())
        rows = db.execute("select count(*) from metric").fetchone()[0]
        best_direct = min(d[0] for d in direct)
        best_ours = min(o[0] for o in ours)
        report = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch threads {args.threads}, load avg {os.getloadavg()[0]:.1f}",
            "model": "tiny random Llama (2 layers, width 64, 49k vocab)",
            "steps": args.steps,
            "direct_steps_per_s": args.steps / best_direct,
            "ours_steps_per_s": args.steps / best_ours,
            "ratio_ours_over_direct": best_direct / best_ours,
            "direct_wall_s": [round(d[1], 2) for d in direct],
            "ours_wall_s": [round(o[1], 2) for o in ours],
            "sqlite_rows_written": rows,
        }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
