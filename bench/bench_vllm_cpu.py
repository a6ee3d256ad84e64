"""Benchmark: the vLLM CPU engine against the transformers backend on the demo model.

One process (inside .venv-vllm, which has both), the same model (SmolLM2-135M-Instruct,
float32), the same real red-team prompts (HH-RLHF harmless-base test), the same config:

1. critique-revision (1 round) on ``--examples`` prompts: seconds, tokens/s, the ratio;
2. AI labelling of pairs made from those prompts: the log-prob labeller (one forward
   pass, both orders, k principles) against generate-and-parse, on each backend; and
   how many prompt tokens vLLM's prefix cache served.

    .venv-vllm/bin/python bench/bench_vllm_cpu.py --json var/bench/vllm_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--k-principles", type=int, default=2)
    parser.add_argument("--model", type=Path, default=ROOT / "var/models/smollm2-135m-instruct")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    import torch

    from bench.bench_critique_revision import red_team_prompts
    from constitutions.content import DEMO_CONSTITUTION
    from training.engine.backends import load_backend
    from training.engine.critique_revision import (
        CritiqueRevisionConfig,
        InMemoryResultStore,
        run_critique_revision,
    )
    from training.engine.demo_model import ensure_demo_model
    from training.engine.labeller import PairToLabel, label_pairs, label_pairs_by_generation
    from training.engine.types import ChatRequest, ModelSpec, SamplingParams

    model_dir = ensure_demo_model(args.model)
    prompts = red_team_prompts(args.examples)
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
    specs = {
        "vllm": ModelSpec(name="smollm2", backend="vllm", path=str(model_dir)),
        "transformers": ModelSpec(
            name="smollm2",
            backend="transformers",
            path=str(model_dir),
            dtype="float32",
            device="cpu",
            options={"batch_size": args.batch_size},
        ),
    }
    figures: dict[str, object] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
        "model": "SmolLM2-135M-Instruct float32",
        "examples": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    answers: list[str] = []
    for name, spec in specs.items():
        backend, load_s = _timed(lambda spec=spec: load_backend(spec))
        figures[f"{name}_load_seconds"] = round(load_s, 1)
        backend.generate(
            [ChatRequest.from_user("Hello")],
            SamplingParams(max_new_tokens=4, seed=1),
        )
        report, cr_s = _timed(
            lambda b=backend: run_critique_revision(
                prompts=prompts,
                content=DEMO_CONSTITUTION,
                backend=b,
                config=config,
                store=InMemoryResultStore(),
            )
        )
        figures[f"{name}_cr_seconds"] = round(cr_s, 2)
        figures[f"{name}_cr_tokens_per_s"] = round(report.completion_tokens / cr_s, 1)
        figures[f"{name}_cr_completion_tokens"] = report.completion_tokens
        if not answers:
            answers = [
                r.text
                for r in backend.generate(
                    [ChatRequest.from_user(p) for p in prompts[: args.pairs * 2]],
                    SamplingParams(temperature=1.0, max_new_tokens=32, seed=3),
                )
            ]
        pairs = [
            PairToLabel(i, prompts[i], answers[2 * i], answers[2 * i + 1])
            for i in range(min(args.pairs, len(answers) // 2))
        ]
        kwargs = dict(
            content=DEMO_CONSTITUTION, backend=backend, seed=0, k_principles=args.k_principles
        )
        sent0 = getattr(backend, "prompt_tokens_sent", 0)
        cached0 = getattr(backend, "prompt_tokens_cached", 0)
        _, lp_s = _timed(lambda kw=kwargs, ps=pairs: label_pairs(ps, batch_size=args.pairs, **kw))
        if name == "vllm":
            sent = backend.prompt_tokens_sent - sent0
            cached = backend.prompt_tokens_cached - cached0
            figures["vllm_label_prompt_tokens"] = sent
            figures["vllm_label_prompt_tokens_cached"] = cached
        _, gen_s = _timed(
            lambda kw=kwargs, ps=pairs: label_pairs_by_generation(ps, batch_size=args.pairs, **kw)
        )
        figures[f"{name}_logprob_labels_per_s"] = round(len(pairs) / lp_s, 2)
        figures[f"{name}_generation_labels_per_s"] = round(len(pairs) / gen_s, 2)
        figures[f"{name}_logprob_vs_generation"] = round(gen_s / lp_s, 2)
        print(
            name, json.dumps({k: v for k, v in figures.items() if k.startswith(name)}), flush=True
        )
        backend.close()
    figures["pairs"] = len(pairs)
    figures["k_principles"] = args.k_principles
    figures["cr_vllm_vs_transformers"] = round(
        figures["transformers_cr_seconds"] / figures["vllm_cr_seconds"], 2
    )
    figures["torch"] = torch.__version__
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":  # vLLM spawns its engine core: the guard is required
    raise SystemExit(main())
