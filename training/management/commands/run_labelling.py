"""Start a labelling run: two sampled answers per prompt, AI-labelled in both orders.

    manage.py run_labelling --team demo-lab --prompt-set "HH red team" --policy "sft-run-3 (...)" \
        --judge "SmolLM2-135M-Instruct (demo)" --version "Demo constitution@1" [--k 3] [--cot] [--wait]
"""

from __future__ import annotations

from training import rlcai
from training.management.commands.run_critique_revision import _named, _version
from training.management.stage_command import StageCommand
from training.models import ModelEntry, PromptSet, Run
from training.rlcai_config import LabellingRunConfig


class Command(StageCommand):
    help = "Start an AI preference labelling run; its output is a label set to audit."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--prompt-set", required=True)
        parser.add_argument("--prompts", default="train", choices=["train", "held_out", "all"])
        parser.add_argument("--policy", required=True, help="model that answers twice")
        parser.add_argument("--judge", required=True, help="feedback model")
        parser.add_argument("--version", required=True, help="version id or 'Name@number'")
        parser.add_argument("--k", type=int, default=1, help="principles per pair")
        parser.add_argument("--cot", action="store_true", help="chain of thought, clamped")
        parser.add_argument("--clamp", type=float, nargs=2, default=(0.4, 0.6))
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--max-new-tokens", type=int, default=128)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--seed", type=int, default=0)

    def start(self, team, o, enqueue: bool) -> Run:
        config = LabellingRunConfig(
            seed=o["seed"],
            temperature=o["temperature"],
            max_new_tokens=o["max_new_tokens"],
            batch_size=o["batch_size"],
            k_principles=o["k"],
            mode="cot" if o["cot"] else "logprob",
            cot_clamp_low=o["clamp"][0],
            cot_clamp_high=o["clamp"][1],
        )
        return rlcai.labelling_start(
            team=team,
            user=None,
            prompt_set=_named(PromptSet, team, o["prompt_set"], "prompt set"),
            prompt_selection=o["prompts"],
            policy=_named(ModelEntry, team, o["policy"], "model"),
            judge=_named(ModelEntry, team, o["judge"], "model"),
            version=_version(team, o["version"]),
            config=config,
            name=o["name"],
            enqueue=enqueue,
        )
