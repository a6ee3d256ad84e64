"""Start a DPO run on a label set (refused unless approved or --override-reason).

    manage.py run_dpo --team demo-lab --label-set 4 --model "sft-run-3 (...)" --max-steps 20 \
        [--threshold 0.6] [--soft-labels] [--override-reason "pilot before the audit"] [--wait]
"""

from __future__ import annotations

from training import rlcai
from training.management.commands.run_critique_revision import _named
from training.management.stage_command import StageCommand, train_arguments, train_options
from training.models import ModelEntry, Run, RunKind


class Command(StageCommand):
    help = "Start a DPO run on an approved label set."
    kind = RunKind.DPO

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--label-set", required=True, help="label set id or name")
        parser.add_argument("--model", required=True, help="policy to start from")
        parser.add_argument("--threshold", type=float, default=0.5)
        parser.add_argument("--override-reason", default="")
        train_arguments(parser)
        parser.add_argument("--beta", type=float, default=0.1)
        parser.add_argument("--label-smoothing", type=float, default=0.0)
        parser.add_argument("--soft-labels", action="store_true")

    def extra(self, o) -> dict:
        return {
            "beta": o["beta"],
            "label_smoothing": o["label_smoothing"],
            "label_smoothing_from_soft_labels": o["soft_labels"],
        }

    def start(self, team, o, enqueue: bool) -> Run:
        from labelling.models import LabelSet

        return rlcai.preference_start(
            kind=self.kind,
            team=team,
            user=None,
            label_set=_named(LabelSet, team, o["label_set"], "label set"),
            model=_named(ModelEntry, team, o["model"], "model"),
            train={**train_options(o), **self.extra(o)},
            threshold=o["threshold"],
            override_reason=o["override_reason"],
            name=o["name"],
            enqueue=enqueue,
        )
