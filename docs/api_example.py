"""The RL-CAI chain driven from outside cai_web, with the client only (docs/api.md).

    CAI_URL=http://127.0.0.1:8000 CAI_TOKEN=cai_… CAI_TEAM=demo-lab \\
        python docs/api_example.py prompts.txt --constitution "Demo constitution" --model smollm2

Critique-revision on the newest published version → SFT on its revisions → AI labels of
the SFT model's answer pairs → (people audit the label set in the browser) → DPO on it,
with an override reason when it is not approved yet. Every start carries an
Idempotency-Key derived from the date, so rerunning the script the same day resumes the
chain instead of starting it twice.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

from cai_client import Client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts")
    parser.add_argument("--constitution", required=True)
    parser.add_argument("--model", required=True, help="a registered, trainable model's name")
    parser.add_argument("--override-reason", default="nightly job: audit pending")
    args = parser.parse_args()
    day = datetime.date.today().isoformat()

    def show(run: dict) -> None:
        p = run["progress"]
        print(
            f"  {run['kind']} #{run['id']}: {run['status']} {p['percent']:.0f}% {p['stage']}",
            file=sys.stderr,
        )

    with Client(
        os.environ["CAI_URL"], token=os.environ["CAI_TOKEN"], team=os.environ["CAI_TEAM"]
    ) as cai:
        prompts = cai.upload_prompts(args.prompts, name=f"red team {day}")
        version = cai.latest_published_version(args.constitution)
        common = {
            "version": version["id"],
            "prompt_set": prompts["id"],
            "prompt_selection": "train",
        }

        cr = cai.start_run(
            "critique_revision", inputs={**common, "model": args.model}, idempotency_key=f"{day}-cr"
        )
        cr = cai.wait(cr, on_progress=show)
        sft = cai.wait(
            cai.start_run(
                "sft",
                inputs={"source_run": cr["id"], "model": args.model},
                idempotency_key=f"{day}-sft",
            ),
            on_progress=show,
        )
        sft_model = cai.artifacts(sft)["models"][0]
        labels = cai.wait(
            cai.start_run(
                "labelling",
                inputs={**common, "policy": sft_model["id"], "judge": args.model},
                idempotency_key=f"{day}-labels",
            ),
            on_progress=show,
        )
        label_set = cai.label_set(labels["output_label_set_id"])
        print(f"label set {label_set['id']}: {label_set['gate']['summary']}", file=sys.stderr)
        config = (
            {} if label_set["status"] == "approved" else {"override_reason": args.override_reason}
        )
        dpo = cai.wait(
            cai.start_run(
                "dpo",
                inputs={"label_set": label_set["id"], "model": sft_model["id"]},
                config=config,
                idempotency_key=f"{day}-dpo",
            ),
            on_progress=show,
        )
        print(cai.artifacts(dpo)["models"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
