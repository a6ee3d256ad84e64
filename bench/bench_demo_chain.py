"""Benchmark: the whole RL-CAI demo chain through the run machinery, stage by stage.

Critique-revision (32 prompts, 1 round) -> SFT (20 steps) -> labelling (the SFT model
answers each prompt twice, the demo model judges both orders) -> DPO (20 steps) on
the demo model (SmolLM2-135M-Instruct), every stage through its service and the
shard task (``shard_execute``) in this process, on a fresh SQLite database under a
temporary CAI_VAR_DIR. The label set is used through a recorded override (no audit).

    .venv/bin/python bench/bench_demo_chain.py [--prompts 32] [--json out.json]
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench_chain_"))
    os.environ["CAI_VAR_DIR"] = str(var)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cai_web.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from django.contrib.auth import get_user_model

    from cai_web.models import Membership, Role, Team
    from tests.factories import published_demo_version
    from training import services
    from training.engine.critique_revision import CritiqueRevisionConfig
    from training.engine.prompt_sets import parse_prompt_file
    from training.engine.types import SamplingParams
    from training.models import ModelEntry
    from training.shards import shard_execute

    model_dir = ROOT / "var" / "models" / "smollm2-135m-instruct"
    if not (model_dir / "config.json").is_file():
        model_dir = Path(settings.MODELS_DIR) / "smollm2-135m-instruct"
    hh = Path(settings.SHARED_DATA_DIR) / "hh-rlhf-harmless-base-test.jsonl.gz"
    prompts = parse_prompt_file(hh.read_bytes(), hh.name).prompts[: args.prompts]

    user = get_user_model().objects.create_user("bench", password="x")
    team = Team.objects.create(name="Bench", slug="bench")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    version = published_demo_version(team, user)
    prompt_set = services.promptset_import(
        team=team,
        user=user,
        name="hh",
        data="\n".join(p.replace("\n", " ") for p in prompts).encode(),
        filename="p.txt",
        held_out_fraction=0.0,
    )
    base = services.model_register(team=team, user=user, name="smollm2", path=str(model_dir))

    timings: dict[str, float] = {}

    def execute(stage: str, run):
        start = time.perf_counter()
        for shard in run.shards.order_by("index"):
            shard_execute(shard.pk, worker="bench")
        timings[stage] = time.perf_counter() - start
        run.refresh_from_db()
        if run.status != "succeeded":
            raise SystemExit(f"{stage} {run.status}: {run.error}")
        print(f"{stage}: {timings[stage]:.1f} s", flush=True)
        return run

    params = SamplingParams(temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens)

    def start(kind: str, config: dict, **inputs) -> object:
        return services.run_start(
            kind=kind, team=team, user=user, inputs=inputs, config=config, enqueue=False
        )

    cr = start(
        "critique_revision",
        version=version,
        prompt_set=prompt_set,
        model=base,
        prompt_selection="all",
        config=CritiqueRevisionConfig(
            rounds=1,
            few_shot=False,
            answer=params,
            critique=params,
            revision=params,
            seed=0,
            batch_size=args.prompts,
        ).to_dict(),
    )
    cr = execute("critique_revision", cr)
    train = {
        "max_steps": args.steps,
        "per_device_batch_size": 4,
        "max_length": 512,
        "logging_steps": 1,
        "save_steps": 10,
    }
    sft = execute(
        "sft",
        start("sft", {"train": {**train, "learning_rate": 2e-5}}, source_run=cr, model=base),
    )
    sft_model = ModelEntry.objects.get(source_run=sft)
    labelling = execute(
        "labelling",
        start(
            "labelling",
            {"seed": 0, "max_new_tokens": args.max_new_tokens, "batch_size": 16},
            prompt_set=prompt_set,
            policy=sft_model,
            judge=base,
            version=version,
            prompt_selection="all",
        ),
    )
    dpo = execute(
        "dpo",
        start(
            "dpo",
            {
                "train": {**train, "per_device_batch_size": 2, "learning_rate": 5e-6},
                "override_reason": "benchmark: no audit",
            },
            label_set=labelling.output_label_set,
            model=sft_model,
        ),
    )
    total = sum(timings.values())
    figures = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, {platform.platform()}",
        "load_average": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
        "prompts": args.prompts,
        "max_new_tokens": args.max_new_tokens,
        "steps": args.steps,
        "seconds": timings,
        "total_seconds": total,
        "labels": labelling.result.get("labels"),
        "dpo_pairs": dpo.result.get("pairs"),
        "cpu_seconds": {
            "sft": sft.gpu_seconds,
            "labelling": labelling.gpu_seconds,
            "dpo": dpo.gpu_seconds,
        },
        "final_dpo_loss": dpo.result.get("final_metrics", {}).get("train_loss"),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
