"""The RL-CAI chain driven from outside cai_web, with the client only (docs/api.md).

    CAI_URL=http://127.0.0.1:8000 CAI_TOKEN=cai_… CAI_TEAM=demo-lab \\
        python docs/api_example.py prompts.txt --constitution "Demo constitution" --model smollm2

Critique-revision on the newest published version → SFT on its revisions → AI labels of
the SFT model's answer pairs → (people audit the label set in the browser) → DPO on it,
with an override reason when it is not approved yet. Every start carries an
Idempotency-Key derived from the date (``--day``, today unless given), so rerunning the
script the same day resumes the chain instead of starting it twice.

``--configs`` sets each stage's options (a JSON object, or a file holding one, keyed by
kind: ``{"critique_revision": {"rounds": 2}, "sft": {"train": {"max_steps": 50}}}``);
what it leaves out takes the kind's defaults. The last line printed (stdout) is the
chain as JSON: every run's id and status, the label set and the DPO model.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from cai_client import Client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts")
    parser.add_argument("--constitution", required=True)
    parser.add_argument("--model", required=True, help="a registered, trainable model's name")
    parser.add_argument("--override-reason", default="nightly job: audit pending")
    parser.add_argument("--configs", default="{}", help="options per kind: JSON or a file")
    parser.add_argument(
        "--day", default=datetime.date.today().isoformat(), help="whose chain (default: today)"
    )
    args = parser.parse_args()
    day = args.day
    text = Path(args.configs).read_text() if Path(args.configs).is_file() else args.configs
    configs = json.loads(text)

    def show(run: dict) -> None:
        p = run["progress"]
        print(
            f"  {run['kind']} #{run['id']}: {run['status']} {p['percent']:.0f}% {p['stage']}",
            file=sys.stderr,
        )

    with Client(
        os.environ["CAI_URL"], token=os.environ["CAI_TOKEN"], team=os.environ["CAI_TEAM"]
    ) as cai:
        # The day's prompt set once: a rerun finds it, so its runs' keys replay.
        name = f"red team {day}"
        same_day = [p for p in cai.prompt_sets() if p["name"] == name]
        prompts = same_day[0] if same_day else cai.upload_prompts(args.prompts, name=name)
        version = cai.latest_published_version(args.constitution)
        common = {
            "version": version["id"],
            "prompt_set": prompts["id"],
            "prompt_selection": "train",
        }

        cr = cai.start_run(
            "critique_revision",
            inputs={**common, "model": args.model},
            config=configs.get("critique_revision"),
            idempotency_key=f"{day}-cr",
        )
        cr = cai.wait(cr, on_progress=show)
        sft = cai.wait(
            cai.start_run(
                "sft",
                inputs={"source_run": cr["id"], "model": args.model},
                config=configs.get("sft"),
                idempotency_key=f"{day}-sft",
            ),
            on_progress=show,
        )
        sft_model = cai.artifacts(sft)["models"][0]
        labels = cai.wait(
            cai.start_run(
                "labelling",
                inputs={**common, "policy": sft_model["id"], "judge": args.model},
                config=configs.get("labelling"),
                idempotency_key=f"{day}-labels",
            ),
            on_progress=show,
        )
        label_set = cai.label_set(labels["output_label_set_id"])
        print(f"label set {label_set['id']}: {label_set['gate']['summary']}", file=sys.stderr)
        config = dict(configs.get("dpo") or {})
        if label_set["status"] != "approved":
            config["override_reason"] = args.override_reason
        dpo = cai.wait(
            cai.start_run(
                "dpo",
                inputs={"label_set": label_set["id"], "model": sft_model["id"]},
                config=config,
                idempotency_key=f"{day}-dpo",
            ),
            on_progress=show,
        )
        dpo_models = cai.artifacts(dpo)["models"]
        chain = {
            "prompt_set": prompts["id"],
            "runs": {
                r["kind"]: {"id": r["id"], "status": r["status"]} for r in (cr, sft, labels, dpo)
            },
            "sft_model": sft_model["id"],
            "label_set": label_set["id"],
            "dpo_models": [m["id"] for m in dpo_models],
        }
        print(json.dumps(chain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
