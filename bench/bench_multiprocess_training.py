"""Benchmark: DPO steps/s with 1 process against 2 DDP processes (accelerate launch, gloo).

A random-weight Llama of real architecture (``--layers``, ``--hidden``) with the demo
tokenizer, the same pairs, the same per-device batch: 2 processes do twice the examples
per step. Steps/s is the trainer's own ``train_steps_per_second`` (training loop only);
wall seconds include process start-up and model loading.

    .venv/bin/python bench/bench_multiprocess_training.py --json var/bench/ddp.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2, help="per process")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from training.engine.demo_model import demo_tokenizer
    from training.engine.trainers import DPOConfigCAI, run
    from training.engine.trainers.data import write_jsonl

    work = Path(tempfile.mkdtemp(prefix="bench_ddp_"))
    tok_dir = demo_tokenizer(work / "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=args.hidden,
            intermediate_size=args.hidden * 2,
            num_hidden_layers=args.layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
    )
    model_dir = work / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    rows = [
        {
            "prompt": [
                {"role": "user", "content": f"Question {i}: how do I reply to a rude email?"}
            ],
            "chosen": "Calmly, after a pause, without insults.",
            "rejected": "Insult them back.",
        }
        for i in range(64)
    ]
    pairs = write_jsonl(rows, work / "pairs.jsonl")
    figures: dict[str, object] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
        "model": f"Llama {args.layers} layers x {args.hidden}, random weights",
        "steps": args.steps,
        "per_device_batch": args.batch,
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    for processes in (1, 2):
        config = DPOConfigCAI(
            model_path=str(model_dir),
            output_dir=str(work / f"run{processes}"),
            pairs_path=str(pairs),
            max_steps=args.steps,
            per_device_batch_size=args.batch,
            logging_steps=5,
            save_steps=10_000,
            max_length=96,
            num_processes=processes,
        )
        t0 = time.perf_counter()
        result = run(config)
        wall = time.perf_counter() - t0
        steps_per_s = result.final_metrics.get("train_steps_per_second")
        figures[f"p{processes}_steps_per_s"] = steps_per_s
        figures[f"p{processes}_examples_per_s"] = (
            round(steps_per_s * args.batch * processes, 2) if steps_per_s else None
        )
        figures[f"p{processes}_wall_seconds"] = round(wall, 1)
        figures[f"p{processes}_world_size"] = result.final_metrics.get("world_size")
        print(processes, figures[f"p{processes}_steps_per_s"], round(wall, 1), flush=True)
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
