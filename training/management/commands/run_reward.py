"""Start a reward-model run on a label set (refused unless approved or --override-reason).

    manage.py run_reward --team demo-lab --label-set 4 --model "SmolLM2-135M-Instruct (demo)" \
        --max-steps 50 [--eval-fraction 0.1] [--wait]
"""

from __future__ import annotations

from training.management.commands.run_dpo import Command as DPOCommand
from training.management.stage_command import StageCommand
from training.models import RunKind


class Command(DPOCommand):
    help = "Start a reward-model run on an approved label set."
    kind = RunKind.REWARD

    def add_arguments(self, parser) -> None:
        StageCommand.add_arguments(self, parser)
        from training.management.stage_command import train_arguments

        parser.add_argument("--label-set", required=True, help="label set id or name")
        parser.add_argument("--model", required=True, help="model to start from")
        parser.add_argument("--threshold", type=float, default=0.5)
        parser.add_argument("--override-reason", default="")
        parser.add_argument("--eval-fraction", type=float, default=0.1)
        train_arguments(parser)

    def extra(self, o) -> dict:
        return {"eval_fraction": o["eval_fraction"]}
