"""Benchmark: the batched critique-revision pipeline against a one-example-at-a-time loop.

Both sides run the same model (the demo SmolLM2-135M-Instruct through the transformers
backend), the same real red-team prompts (the first unique prompts of HH-RLHF
harmless-base test), the same principles, prompts and sampling parameters, in one
process one after the other. Only the batching differs.

    .venv/bin/python bench/bench_critique_revision.py            # 32 prompts, 1 round
    .venv/bin/python bench/bench_critique_revision.py --batch-size 32 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from constitutions.content import DEMO_CONSTITUTION  # noqa: E402
from training.engine.critique_revision import (  # noqa: E402
    CritiqueRevisionConfig,
    InMemoryResultStore,
    derive_seed,
    plan_principles,
    run_critique_revision,
)
from training.engine.prompt_sets import parse_prompt_file  # noqa: E402
from training.engine.prompts import (  # noqa: E402
    answer_messages,
    clean_generation,
    critique_messages,
    revision_messages,
)
from training.engine.types import ChatRequest, ModelSpec, SamplingParams  # noqa: E402

HH_FILE = "hh-rlhf-harmless-base-test.jsonl.gz"


def shared_data() -> Path:
    env = os.environ.get("CAI_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def red_team_prompts(n: int) -> list[str]:
    path = shared_data() / HH_FILE
    return parse_prompt_file(path.read_bytes(), path.name).prompts[:n]


def naive_loop(backend, prompts: list[str], config: CritiqueRevisionConfig) -> dict[str, int]:
    """Answer, critique and revise one example at a time: one request per generate call."""
    plan = plan_principles(DEMO_CONSTITUTION, len(prompts), config.rounds, config.seed)
    few_shots = DEMO_CONSTITUTION.few_shots if config.few_shot else ()
    tokens = calls = 0

    def one(messages, params: SamplingParams, stage: str, r: int, i: int) -> str:
        nonlocal tokens, calls
        seeded = dataclasses.replace(params, seed=derive_seed(config.seed, stage, r, i))
        (completion,) = backend.generate([ChatRequest(messages)], seeded)
        tokens += completion.completion_tokens
        calls += 1
        return completion.text.strip()

    for i, prompt in enumerate(prompts):
        response = one(answer_messages(prompt), config.answer, "answer", 0, i)
        for r in range(1, config.rounds + 1):
            principle = plan[r - 1][i]
            critique = one(
                critique_messages(prompt, response, principle, few_shots),
                config.critique,
                "critique",
                r,
                i,
            )
            response = clean_generation(
                one(
                    revision_messages(prompt, response, principle, critique, few_shots),
                    config.revision,
                    "revision",
                    r,
                    i,
                )
            )
    return {"completion_tokens": tokens, "generate_calls": calls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--few-shot", action="store_true", help="include the few-shot dialogues")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument(
        "--no-sort", action="store_true", help="batch in index order, not grouped by length"
    )
    parser.add_argument("--model", type=Path, default=ROOT / "var/models/smollm2-135m-instruct")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's choice). On a shared, busy machine 1 thread "
        "can be many times faster than 2: OpenMP threads wait for each other at every op.",
    )
    args = parser.parse_args(argv)

    from training.engine.demo_model import DemoModelMissing, ensure_demo_model

    try:
        model_dir = ensure_demo_model(args.model)
    except DemoModelMissing as error:
        print(f"cannot run the benchmark without the demo model: {error}", file=sys.stderr)
        return 2

    import torch

    from training.engine.backends import load_backend

    if args.threads:
        torch.set_num_threads(args.threads)

    spec = ModelSpec(
        name="SmolLM2-135M-Instruct",
        backend="transformers",
        path=str(model_dir),
        device="cpu",
        # The backend splits a call into sub-batches of this size: match the pipeline's.
        options={"batch_size": args.batch_size},
    )
    backend = load_backend(spec)
    prompts = red_team_prompts(args.examples)
    params = SamplingParams(temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens)
    config = CritiqueRevisionConfig(
        rounds=args.rounds,
        few_shot=args.few_shot,
        answer=params,
        critique=params,
        revision=params,
        seed=0,
        batch_size=args.batch_size,
        sort_by_length=not args.no_sort,
    )
    # Warm-up: first-call allocations and lazy imports should count against neither side.
    backend.generate([ChatRequest(answer_messages("Hello"))], dataclasses.replace(params, seed=1))

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    report = run_critique_revision(
        prompts=prompts,
        content=DEMO_CONSTITUTION,
        backend=backend,
        config=config,
        store=InMemoryResultStore(),
    )
    batched_s = time.perf_counter() - t0
    figures: dict[str, object] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "model": spec.name,
        "examples": len(prompts),
        "rounds": args.rounds,
        "few_shot": args.few_shot,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "sort_by_length": not args.no_sort,
        "batched_seconds": round(batched_s, 2),
        "batched_examples_per_s": round(len(prompts) / batched_s, 3),
        "batched_tokens_per_s": round(report.completion_tokens / batched_s, 1),
        "batched_completion_tokens": report.completion_tokens,
        "load_average_before": round(load_before, 2),
    }
    print(
        f"batched (batch {args.batch_size}): {batched_s:.1f} s, "
        f"{len(prompts) / batched_s:.3f} examples/s, {report.completion_tokens / batched_s:.1f} tokens/s"
    )
    if not args.skip_naive:
        t0 = time.perf_counter()
        naive = naive_loop(backend, prompts, config)
        naive_s = time.perf_counter() - t0
        figures.update(
            naive_seconds=round(naive_s, 2),
            naive_examples_per_s=round(len(prompts) / naive_s, 3),
            naive_tokens_per_s=round(naive["completion_tokens"] / naive_s, 1),
            naive_completion_tokens=naive["completion_tokens"],
            speedup_examples_per_s=round(naive_s / batched_s, 2),
        )
        print(
            f"naive (one at a time): {naive_s:.1f} s, {len(prompts) / naive_s:.3f} examples/s, "
            f"{naive['completion_tokens'] / naive_s:.1f} tokens/s"
        )
        print(f"speed-up, examples/s: {naive_s / batched_s:.2f}x")
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    backend.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
