"""Start an evaluation run: trained vs base on the prompt set's held-out prompts.

    manage.py run_evaluation --team demo-lab --policy "dpo-run-9 (...)" \
        --base "SmolLM2-135M-Instruct (demo)" --judge "SmolLM2-135M-Instruct (demo)" \
        --version "Demo constitution@1" --prompt-set "HH red team" [--wait]
"""

from __future__ import annotations

from training import rlcai
from training.management.commands.run_critique_revision import _named, _version
from training.management.stage_command import StageCommand
from training.models import ModelEntry, PromptSet, Run
from training.rlcai_config import EvaluationRunConfig


class Command(StageCommand):
    help = "Start an evaluation run (harmlessness win rate, over-refusal)."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--policy", required=True)
        parser.add_argument("--base", required=True)
        parser.add_argument("--judge", required=True)
        parser.add_argument("--version", required=True, help="version id or 'Name@number'")
        parser.add_argument("--prompt-set", required=True)
        parser.add_argument("--max-new-tokens", type=int, default=128)
        parser.add_argument("--k", type=int, default=1)
        parser.add_argument("--benign", type=int, default=20, help="benign prompts (1-20)")
        parser.add_argument("--seed", type=int, default=0)

    def start(self, team, o, enqueue: bool) -> Run:
        return rlcai.evaluation_start(
            team=team,
            user=None,
            policy=_named(ModelEntry, team, o["policy"], "model"),
            base=_named(ModelEntry, team, o["base"], "model"),
            judge=_named(ModelEntry, team, o["judge"], "model"),
            version=_version(team, o["version"]),
            prompt_set=_named(PromptSet, team, o["prompt_set"], "prompt set"),
            config=EvaluationRunConfig(
                seed=o["seed"],
                k_principles=o["k"],
                max_new_tokens=o["max_new_tokens"],
                benign_limit=o["benign"],
            ),
            name=o["name"],
            enqueue=enqueue,
        )
