"""Start an SFT (SL-CAI) run on a succeeded critique-revision run.

    manage.py run_sft --team demo-lab --source-run 12 --model "SmolLM2-135M-Instruct (demo)" \
        --max-steps 20 [--lora] [--wait | --inline]
"""

from __future__ import annotations

from training import rlcai
from training.management.commands.run_critique_revision import _named
from training.management.stage_command import StageCommand, train_arguments, train_options
from training.models import ModelEntry, Run


class Command(StageCommand):
    help = "Start an SFT run on a critique-revision run's revisions."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--source-run", required=True, type=int, help="critique-revision run id"
        )
        parser.add_argument("--model", required=True, help="base model id or name")
        parser.add_argument("--min-rounds", type=int, default=1)
        train_arguments(parser)

    def start(self, team, o, enqueue: bool) -> Run:
        return rlcai.sft_start(
            team=team,
            user=None,
            source_run=_named(Run, team, str(o["source_run"]), "run"),
            model=_named(ModelEntry, team, o["model"], "model"),
            train=train_options(o),
            min_rounds=o["min_rounds"],
            name=o["name"],
            enqueue=enqueue,
        )
