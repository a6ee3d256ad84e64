"""Shared base of the RL-CAI launch commands (run_sft, run_labelling, run_dpo,
run_reward, run_evaluation): team lookup, ``--wait`` and ``--inline``, and a
progress line per change.

``--wait`` polls until the run finishes (a worker must be running); ``--inline``
runs the shard in this process instead of queueing it (no worker needed).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cai_web.models import Team
from training.models import Run
from training.services import TrainingError


def team_of(slug: str) -> Team:
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise CommandError(f"no team {slug!r}")
    return team


def train_arguments(parser: Any) -> None:
    parser.add_argument("--max-steps", type=int, default=100)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--batch-size", type=int, default=4, help="per-device batch size")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--logging-steps", type=int)
    parser.add_argument("--save-steps", type=int)
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter (peft)")
    parser.add_argument("--seed", type=int, default=0)


def train_options(o: dict[str, Any]) -> dict[str, Any]:
    options = {
        "max_steps": o["max_steps"],
        "per_device_batch_size": o["batch_size"],
        "max_length": o["max_length"],
        "use_lora": o["lora"],
        "seed": o["seed"],
    }
    for key in ("learning_rate", "logging_steps", "save_steps"):
        if o.get(key) is not None:
            options[key] = o[key]
    return options


def line(run: Run) -> str:
    extra = ""
    if run.result.get("global_step") is not None:
        extra = f", step {run.result['global_step']}"
    return (
        f"run #{run.pk} {run.get_kind_display()} {run.status}: "
        f"{run.done_units}/{run.total_units} {run.stage}{extra}"
    )


class StageCommand(BaseCommand):
    """Subclasses add their arguments and implement ``start(team, options) -> Run``."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names the constitution version here, not Django's version.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--team", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--wait", action="store_true", help="wait for the run to finish")
        parser.add_argument("--inline", action="store_true", help="run here instead of on a worker")

    def start(self, team: Team, o: dict[str, Any], enqueue: bool) -> Run:
        raise NotImplementedError

    def handle(self, *args, **o) -> None:
        team = team_of(o["team"])
        try:
            with transaction.atomic():
                run = self.start(team, o, enqueue=not o["inline"])
        except TrainingError as exc:
            raise CommandError(str(exc)) from None
        except ValueError as exc:  # config validation (ConfigError is a ValueError)
            raise CommandError(str(exc)) from None
        self.stdout.write(f"run #{run.pk} ({run.get_kind_display()}) queued")
        if o["inline"]:
            from training.execution import shard_execute

            for shard in run.shards.order_by("index"):
                shard_execute(shard.pk, worker="inline")
        elif o["wait"]:
            last = ""
            while True:
                run.refresh_from_db()
                text = line(run)
                if text != last:
                    self.stdout.write(text)
                    last = text
                if run.is_finished:
                    break
                time.sleep(2)
        run.refresh_from_db()
        self.stdout.write(line(run))
        if run.is_finished and run.status != "succeeded":
            raise CommandError(f"run #{run.pk} {run.status}: {run.error}")
