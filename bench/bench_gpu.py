"""GPU benchmark, prepared for a machine with CUDA and the GPU image (requirements-gpu.txt).

A Llama of Llama-3.2-1B's shape (hidden 2048, 16 layers, 32 heads / 8 KV heads, MLP 8192)
with random weights built here (no download) and the demo model's tokenizer (49k vocab,
so the embedding is smaller than Llama 3's 128k). Measures, in one process:

- vLLM generation tokens/s at batch 64 and 256 (~128-token prompts, up to 128 new tokens;
  random weights seldom stop early, and the tokens made are counted) through VLLMBackend;
- transformers' default ``generate`` at batch 64, same prompts (TransformersBackend);
- the labeller's labels/s: log-prob (one forward pass, both orders) against
  generate-and-parse, on vLLM and on transformers;
- one DPO optimizer step (trl DPOTrainer through training.engine.trainers.dpo).

    python bench/bench_gpu.py --json var/bench/gpu.json        # on the GPU machine
    python bench/bench_gpu.py --tiny                           # CPU smoke run (tested)
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

SHAPES = {
    "1b": dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
    ),
    # head_dim 64: vLLM's CPU attention kernels take the usual head sizes only.
    "tiny": dict(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
    ),
}


def build_model(dest: Path, shape: str) -> tuple[Path, int]:
    """A random-weight Llama of ``shape`` with the demo tokenizer, saved as a folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from training.engine.demo_model import demo_tokenizer

    tok_dir = demo_tokenizer(dest / "tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=2048,
        rope_theta=500000.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        **SHAPES[shape],
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(
        torch.bfloat16 if torch.cuda.is_available() else torch.float32
    )
    folder = dest / f"llama-{shape}"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    del model
    return folder, params


def _requests(n: int, prompt_words: int):
    from training.engine.types import ChatRequest

    words = "the quick brown fox jumps over a lazy dog near river bank".split()
    return [
        ChatRequest.from_user(
            f"{i}: " + " ".join(words[(i + j) % len(words)] for j in range(prompt_words))
        )
        for i in range(n)
    ]


def bench_generation(backend, batch: int, prompt_words: int, new_tokens: int) -> dict:
    from training.engine.types import SamplingParams

    requests = _requests(batch, prompt_words)
    params = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=new_tokens, seed=1)
    backend.generate(requests[:2], params)  # warm-up
    t0 = time.perf_counter()
    out = backend.generate(requests, params)
    seconds = time.perf_counter() - t0
    tokens = sum(c.completion_tokens for c in out)
    return {
        "batch": batch,
        "seconds": round(seconds, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 1),
    }


def bench_labeller(backend, pairs: int) -> dict:
    from constitutions.content import DEMO_CONSTITUTION
    from training.engine.labeller import PairToLabel, label_pairs, label_pairs_by_generation

    rows = [
        PairToLabel(
            i,
            f"Question {i}: how do I stay safe online?",
            f"Use strong passwords ({i}).",
            "Never mind.",
        )
        for i in range(pairs)
    ]
    kwargs = dict(
        content=DEMO_CONSTITUTION, backend=backend, seed=0, k_principles=2, batch_size=pairs
    )
    label_pairs(rows[:2], **kwargs)
    t0 = time.perf_counter()
    label_pairs(rows, **kwargs)
    logprob_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    label_pairs_by_generation(rows, **kwargs)
    gen_s = time.perf_counter() - t0
    return {
        "pairs": pairs,
        "logprob_labels_per_s": round(pairs / logprob_s, 2),
        "generation_labels_per_s": round(pairs / gen_s, 2),
        "logprob_speedup": round(gen_s / logprob_s, 2),
    }


def bench_dpo_step(model_dir: Path, work: Path, batch: int) -> dict:
    from training.engine.trainers import DPOConfigCAI
    from training.engine.trainers.data import write_jsonl
    from training.engine.trainers.dpo import main as dpo_main

    rows = [
        {
            "prompt": [
                {"role": "user", "content": f"Question {i}: how should I answer a rude email?"}
            ],
            "chosen": "Calmly, after a pause, and without insults. " * 4,
            "rejected": "Insult them back. " * 4,
        }
        for i in range(batch * 3)
    ]
    pairs = write_jsonl(rows, work / "pairs.jsonl")
    times: list[float] = []

    def sink(step: int, metrics: dict) -> None:
        times.append(time.perf_counter())

    config = DPOConfigCAI(
        model_path=str(model_dir),
        output_dir=str(work / "dpo"),
        pairs_path=str(pairs),
        max_steps=3,
        per_device_batch_size=batch,
        logging_steps=1,
        save_steps=1000,
        max_length=256,
    )
    t0 = time.perf_counter()
    result = dpo_main(config, callbacks=[sink])
    # Step 1 pays for warm-up; the median later step is the figure.
    steps = [b - a for a, b in zip([t0, *times], times, strict=False)][1:]
    steps.sort()
    return {
        "batch": batch,
        "steps": result.global_step,
        "step_seconds": round(steps[len(steps) // 2], 3) if steps else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tiny", action="store_true", help="a 2-layer model and small batches (CPU check)"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="build the model here and keep it")
    args = parser.parse_args(argv)

    import torch

    from training.engine.backends import load_backend
    from training.engine.types import ModelSpec

    cuda = torch.cuda.is_available()
    shape = "tiny" if args.tiny else "1b"
    batches = (4, 8) if args.tiny else (64, 256)
    hf_batch = 4 if args.tiny else 64
    new_tokens, prompt_words = (8, 16) if args.tiny else (128, 100)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_gpu_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model_dir, params = build_model(work, shape)
    figures: dict[str, object] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": (
            torch.cuda.get_device_name(0)
            if cuda
            else f"{platform.machine()} CPU, {os.cpu_count()} cores"
        ),
        "model": f"Llama {shape} shape, random weights, {params / 1e9:.2f} B parameters",
        "dtype": "bfloat16" if cuda else "float32",
        "build_seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
    }
    options = {"gpu_memory_utilization": 0.6} if cuda else {"cpu_kv_cache_gb": 1}
    vllm = load_backend(
        ModelSpec(name="llama", backend="vllm", path=str(model_dir), options=options)
    )
    figures["vllm"] = [bench_generation(vllm, b, prompt_words, new_tokens) for b in batches]
    figures["labeller_vllm"] = bench_labeller(vllm, 8 if args.tiny else 256)
    vllm.close()
    hf = load_backend(
        ModelSpec(
            name="llama",
            backend="transformers",
            path=str(model_dir),
            options={"batch_size": hf_batch},
        )
    )
    figures["transformers"] = [bench_generation(hf, hf_batch, prompt_words, new_tokens)]
    figures["labeller_transformers"] = bench_labeller(hf, 8 if args.tiny else 64)
    hf.close()
    figures[f"vllm_vs_transformers_at_batch_{batches[0]}"] = round(
        figures["vllm"][0]["tokens_per_s"] / figures["transformers"][0]["tokens_per_s"], 2
    )
    figures["dpo"] = bench_dpo_step(model_dir, work, 2 if args.tiny else 8)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":  # vLLM spawns its engine core: the guard is required
    raise SystemExit(main())
