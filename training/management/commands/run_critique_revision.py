"""Launch a critique-revision run from a shell, like the launch form does.

    manage.py run_critique_revision --team demo-lab --version "Demo constitution@1" \
        --prompt-set "HH-RLHF red team (first 64)" --model "SmolLM2-135M-Instruct (demo)" \
        --rounds 2 --max-new-tokens 128 [--wait] [--inline]

``--wait`` polls until the run finishes (a worker must be running); ``--inline`` runs
the shards in this process instead of queueing them (no worker needed).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cai_web.models import Team
from constitutions.models import ConstitutionVersion
from training import services
from training.models import ModelEntry, PromptSet, Run


def _version(team: Team, ref: str) -> ConstitutionVersion:
    qs = ConstitutionVersion.objects.filter(constitution__team=team)
    if ref.isdigit():
        found = qs.filter(pk=int(ref)).first()
    else:
        name, _, number = ref.rpartition("@")
        if not name or not number.isdigit():
            raise CommandError("--version is a version id or 'Constitution name@number'")
        found = qs.filter(constitution__name=name, number=int(number)).first()
    if found is None:
        raise CommandError(f"no constitution version {ref!r} in {team.slug}")
    return found


def _named(model, team: Team, ref: str, what: str):
    qs = model.objects.filter(team=team)
    found = qs.filter(pk=int(ref)).first() if ref.isdigit() else qs.filter(name=ref).first()
    if found is None:
        raise CommandError(f"no {what} {ref!r} in {team.slug}")
    return found


class Command(BaseCommand):
    help = "Start a critique-revision (SL-CAI) run."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names the constitution version here, not Django's version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--team", required=True)
        parser.add_argument("--version", required=True, help="version id or 'Name@number'")
        parser.add_argument("--prompt-set", required=True, help="id or name")
        parser.add_argument("--model", required=True, help="id or name")
        parser.add_argument("--prompts", default="train", choices=["train", "held_out", "all"])
        parser.add_argument("--rounds", type=int, default=1)
        parser.add_argument("--no-few-shot", action="store_true")
        parser.add_argument("--temperature", type=float, default=0.7)
        parser.add_argument("--top-p", type=float, default=0.95)
        parser.add_argument("--max-new-tokens", type=int, default=256)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--shard-size", type=int, default=services.DEFAULT_SHARD_SIZE)
        parser.add_argument("--name", default="")
        parser.add_argument("--wait", action="store_true", help="wait for the run to finish")
        parser.add_argument("--inline", action="store_true", help="run here instead of on a worker")

    def handle(self, *args, **o) -> None:
        from training.engine.critique_revision import CritiqueRevisionConfig
        from training.engine.types import SamplingParams

        team = Team.objects.filter(slug=o["team"]).first()
        if team is None:
            raise CommandError(f"no team with slug {o['team']!r}")
        try:
            params = SamplingParams(
                temperature=o["temperature"], top_p=o["top_p"], max_new_tokens=o["max_new_tokens"]
            )
            config = CritiqueRevisionConfig(
                rounds=o["rounds"],
                few_shot=not o["no_few_shot"],
                answer=params,
                critique=params,
                revision=params,
                seed=o["seed"],
                batch_size=o["batch_size"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            with transaction.atomic():
                run = services.critique_revision_start(
                    team=team,
                    user=None,
                    version=_version(team, o["version"]),
                    prompt_set=_named(PromptSet, team, o["prompt_set"], "prompt set"),
                    model=_named(ModelEntry, team, o["model"], "model"),
                    config=config,
                    prompt_selection=o["prompts"],
                    shard_size=o["shard_size"],
                    name=o["name"],
                    enqueue=not o["inline"],
                )
        except services.TrainingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"run #{run.pk} queued: {run.examples_total} prompts, {run.shards.count()} shard(s)"
        )
        if o["inline"]:
            from training.execution import shard_execute

            for shard in run.shards.order_by("index"):
                shard_execute(shard.pk, worker="inline")
                run.refresh_from_db()
                self.stdout.write(_line(run))
        elif o["wait"]:
            last = ""
            while True:
                run.refresh_from_db()
                line = _line(run)
                if line != last:
                    self.stdout.write(line)
                    last = line
                if run.is_finished:
                    break
                time.sleep(2)
        run.refresh_from_db()
        if run.is_finished and run.status != "succeeded":
            raise CommandError(f"run #{run.pk} {run.status}: {run.error}")


def _line(run: Run) -> str:
    eta = f", ETA {run.eta_seconds:.0f} s" if run.eta_seconds is not None and run.is_active else ""
    return (
        f"run #{run.pk} {run.status}: {run.done_units}/{run.total_units} generations, "
        f"{run.examples_done}/{run.examples_total} examples, {run.stage} r{run.round}, "
        f"{run.tokens_per_s:.1f} tok/s{eta}"
    )
