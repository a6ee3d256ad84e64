"""``python -m training.engine.trainers {sft,dpo,reward} --config run.json|yaml``.

Works the same under ``accelerate launch --num_processes N -m training.engine.trainers ...``:
every process builds the trainer, accelerate shards the batches, and only the main
process prints the result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

from training.engine.trainers import run
from training.engine.trainers.config import CONFIG_CLASSES, load_recipe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.engine.trainers")
    parser.add_argument("trainer", choices=sorted(CONFIG_CLASSES))
    parser.add_argument("--config", required=True, help="JSON or YAML config/recipe file")
    parser.add_argument("--output-dir", help="override output_dir")
    parser.add_argument("--max-steps", type=int, help="override max_steps")
    parser.add_argument("--summary", help="also write the result summary as JSON to this file")
    return parser.parse_args(argv)


def _launched_hooks() -> tuple[list[object], object]:
    """Under a worker's ``launch``: rank 0's metrics go to a file, the stop flag is a file.

    The metrics callback calls its sink on the main process only, so each step is
    written once; the stop callback all-reduces rank 0's answer to every rank.
    """
    from training.engine.trainers.launch import METRICS_ENV, STOP_ENV

    metrics_file, stop_file = os.environ.get(METRICS_ENV), os.environ.get(STOP_ENV)
    callbacks: list[object] = []
    if metrics_file:

        def sink(step: int, metrics: dict[str, float]) -> None:
            with open(metrics_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, "metrics": metrics}) + "\n")

        callbacks.append(sink)
    should_stop = None
    if stop_file:

        def should_stop() -> bool:
            return os.path.exists(stop_file)

    return callbacks, should_stop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides: dict[str, object] = {"trainer": args.trainer}
    if args.output_dir:
        overrides["output_dir"] = args.output_dir
    if args.max_steps:
        overrides["max_steps"] = args.max_steps
    config = load_recipe(args.config, **overrides)
    callbacks, should_stop = _launched_hooks()
    result = run(config, callbacks=callbacks, should_stop=should_stop)
    if int(os.environ.get("RANK", "0")) == 0:
        summary = asdict(result)
        summary["metrics_history"] = summary["metrics_history"][-3:]
        text = json.dumps(summary, indent=2, default=str)
        sys.stdout.write(text + "\n")
        if args.summary:
            with open(args.summary, "w", encoding="utf-8") as handle:
                handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
