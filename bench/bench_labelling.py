"""Log-prob vs generation-based AI preference labelling, and the shared-prefix gain.

Same model, same pairs, same prompts: real single-turn red-team dialogues from
HH-RLHF harmless-base (test split), the human-chosen and human-rejected final
answers as the pair. Prints one JSON object with labels/s of each labeller, their
ratio, the KV-cache shared-prefix gain for a k-principle ensemble, and the achieved
fraction of the prefill limit (2 x parameters x prompt tokens / peak FLOP/s), the
peak taken from a matmul microbenchmark at the same thread count.

    .venv/bin/python bench/bench_labelling.py [--pairs 32] [--k 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
MODEL = ROOT / "var" / "models" / "smollm2-135m-instruct"


def single_turn(dialogue: str) -> tuple[str, str] | None:
    """(human prompt, assistant answer) for a one-exchange dialogue, else None."""
    if dialogue.count("\n\nHuman:") != 1 or dialogue.count("\n\nAssistant:") != 1:
        return None
    human, _, assistant = dialogue.partition("\n\nAssistant:")
    return human.replace("\n\nHuman:", "", 1).strip(), assistant.strip()


def load_pairs(n: int, max_chars: int) -> list:
    from training.engine.labeller import PairToLabel

    pairs = []
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            chosen, rejected = single_turn(row["chosen"]), single_turn(row["rejected"])
            if (
                not chosen
                or not rejected
                or chosen[1] == rejected[1]
                or not chosen[1]
                or not rejected[1]
            ):
                continue
            pairs.append(
                PairToLabel(len(pairs), chosen[0], chosen[1][:max_chars], rejected[1][:max_chars])
            )
            if len(pairs) == n:
                break
    return pairs


def matmul_peak(size: int = 1024, repeats: int = 20) -> float:
    """Best-of-three float32 matmul FLOP/s on this machine at the current thread count."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, repeats * 2 * size**3 / (time.perf_counter() - start))
    return best


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--prefix-pairs", type=int, default=8, help="pairs for the k-ensemble run")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--max-answer-chars", type=int, default=400)
    parser.add_argument("--verdict-tokens", type=int, default=4)
    parser.add_argument(
        "--reason-tokens", type=int, default=32, help="a verdict with a one-line reason"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    import torch

    # On a shared 2-core box, 2 spinning OpenMP threads lose 4-8x to other jobs; 1 is steadier.
    torch.set_num_threads(args.threads)
    from constitutions.content import DEMO_CONSTITUTION
    from training.engine.backends import load_backend
    from training.engine.demo_model import ensure_demo_model
    from training.engine.labeller import (
        ChatRequest,
        build_comparison_messages,
        label_pairs,
        label_pairs_by_generation,
        pair_principles,
    )
    from training.engine.types import ModelSpec

    ensure_demo_model(MODEL)
    backend = load_backend(
        ModelSpec(
            name="smollm2-135m",
            backend="transformers",
            path=str(MODEL),
            device="cpu",
            options={"batch_size": args.batch_size},
        )
    )
    params = sum(p.numel() for p in backend.model.parameters())
    pairs = load_pairs(args.pairs, args.max_answer_chars)
    common = dict(content=DEMO_CONSTITUTION, backend=backend, seed=0, batch_size=args.batch_size)

    label_pairs(pairs[:1], **common)  # warm-up
    peak = matmul_peak()

    # Log-prob runs before and after the generation run (best of two), so that a change
    # in the load from other jobs on this shared machine does not favour either side.
    logprob, t_first = timed(lambda: label_pairs(pairs, **common))
    generated, t_generation = timed(
        lambda: label_pairs_by_generation(pairs, max_new_tokens=args.verdict_tokens, **common)
    )
    _, t_second = timed(lambda: label_pairs(pairs, **common))
    t_logprob = min(t_first, t_second)
    reasoned, t_reasoned = timed(
        lambda: label_pairs_by_generation(pairs, max_new_tokens=args.reason_tokens, **common)
    )

    # Prompt tokens of the log-prob run: what the prefill limit counts.
    tokens = 0
    for pair in pairs:
        (principle,) = pair_principles(DEMO_CONSTITUTION, 0, pair.index, 1)
        for first, second in (
            (pair.response_a, pair.response_b),
            (pair.response_b, pair.response_a),
        ):
            text = backend._render(
                ChatRequest(build_comparison_messages(pair.prompt, first, second, principle))
            )
            tokens += backend.count_tokens(text)
    prefill_limit_s = 2 * params * tokens / peak

    few = pairs[: args.prefix_pairs]
    ensemble = dict(common, k_principles=args.k)
    plain, t_plain = timed(lambda: label_pairs(few, shared_prefix=False, **ensemble))
    cached, t_cached = timed(lambda: label_pairs(few, shared_prefix=True, **ensemble))
    max_diff = max(abs(a.p_a_mean - b.p_a_mean) for a, b in zip(plain, cached, strict=True))

    agree = sum(
        1
        for lp, g in zip(logprob, generated, strict=True)
        if g.verdict_ab is not None and lp.verdict_ab == g.verdict_ab
    )
    human = sum(1 for lp in logprob if lp.p_a_mean > 0.5)  # response_a is the human-chosen one
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch threads {args.threads}, load avg {os.getloadavg()[0]:.1f}",
        "model": f"SmolLM2-135M-Instruct ({params / 1e6:.1f}M parameters, float32)",
        "pairs": len(pairs),
        "max_answer_chars": args.max_answer_chars,
        "logprob_labels_per_s": len(pairs) / t_logprob,
        "generation_labels_per_s": len(pairs) / t_generation,
        "generation_verdict_tokens": args.verdict_tokens,
        "logprob_over_generation": t_generation / t_logprob,
        "logprob_s_runs": [t_first, t_second],
        "generation_with_reason_tokens": args.reason_tokens,
        "generation_with_reason_labels_per_s": len(pairs) / t_reasoned,
        "logprob_over_generation_with_reason": t_reasoned / t_logprob,
        "generation_with_reason_parsed_share": sum(g.verdict_ab is not None for g in reasoned)
        / len(reasoned),
        "generation_parsed_share": sum(g.verdict_ab is not None for g in generated)
        / len(generated),
        "logprob_generation_agreement_ab": agree / len(pairs),
        "logprob_agrees_with_human": human / len(pairs),
        "prompt_tokens_logprob_run": tokens,
        "matmul_peak_gflops": peak / 1e9,
        "prefill_limit_s": prefill_limit_s,
        "logprob_s": t_logprob,
        "prefill_fraction_achieved": prefill_limit_s / t_logprob,
        "shared_prefix": {
            "pairs": len(few),
            "k": args.k,
            "plain_s": t_plain,
            "kv_cache_s": t_cached,
            "gain": t_plain / t_cached,
            "max_abs_diff_p": max_diff,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
