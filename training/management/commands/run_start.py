"""Start a run of any kind from a shell, the same way the launch page does.

    manage.py run_start dpo --team demo-lab --label-set 4 --model sft-run-3 \\
        --set train.max_steps=20 --set threshold=0.6 [--override-reason "pilot"] \\
        [--confirm-inconsistent] [--wait]
    manage.py run_start critique_revision --team demo-lab --version "Demo constitution@1" \\
        --prompt-set "HH-RLHF red team (first 64)" --model "SmolLM2-135M-Instruct (demo)" \\
        --recipe training/recipes/runs/critique_revision.yaml --inline

Inputs are named by id or name (a version also as ``Name@number``). ``--recipe`` reads
a YAML file with ``config:`` (and optionally ``inputs:`` and ``kind:``); ``--set
key=value`` overrides one option (``train.max_steps=20``; values read as YAML). The
service checks everything: a role the kind does not take, an object it does not
accept (a reward model as a DPO policy) or an unknown option is refused with the
reason. ``--wait`` polls until the run ends (a worker must be running); ``--inline``
runs the shards in this process instead of queueing them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from cai_web.models import Team
from training.engine.config import ConfigError, set_option
from training.errors import TrainingError
from training.kinds.registry import UnknownKind, get, kinds
from training.models import Run
from training.services import run_start


def _roles() -> dict[str, str]:
    """Every input role of every kind → its help (one --flag each)."""
    roles: dict[str, str] = {}
    for spec in kinds().values():
        for rule in spec.inputs:
            roles.setdefault(rule.role, rule.label)
    return roles


def _read_recipe(path: Path) -> dict[str, Any]:
    import yaml

    from cai_web.jsonlimits import yaml_loads

    try:
        data = yaml_loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CommandError(f"{path}: cannot read the recipe ({exc})") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path}: a recipe is a mapping with config: (and inputs:, kind:)")
    unknown = sorted(set(data) - {"kind", "inputs", "config", "name", "shard_size"})
    if unknown:
        raise CommandError(f"{path}: unknown recipe key(s) {', '.join(unknown)}")
    return data


def status_line(run: Run) -> str:
    extra = ""
    if (run.result or {}).get("global_step") is not None:
        extra = f", step {run.result['global_step']}"
    eta = f", ETA {run.eta_seconds:.0f} s" if run.eta_seconds is not None and run.is_active else ""
    return (
        f"run #{run.pk} {run.spec.label} {run.status}: "
        f"{run.done_units}/{run.total_units} {run.spec.progress_unit}"
        f"{', ' + run.stage if run.stage else ''}{extra}{eta}"
    )


class Command(BaseCommand):
    help = "Start a run of any registered kind (critique_revision, sft, labelling, dpo, ...)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names the constitution version here, not Django's version.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", help=f"one of {', '.join(kinds())}")
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--name", default=None)
        parser.add_argument("--recipe", type=Path, help="YAML file with config: (and inputs:)")
        parser.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", help="one option"
        )
        parser.add_argument("--shard-size", type=int, default=None)
        parser.add_argument("--override-reason", default=None, help="use an unapproved label set")
        parser.add_argument(
            "--confirm-inconsistent",
            action="store_true",
            help="DPO / reward: train on a label set more position-inconsistent than the team's threshold",
        )
        parser.add_argument(
            "--idempotency-key", default="", help="the same key again returns the first run"
        )
        for role, label in _roles().items():
            parser.add_argument(f"--{role.replace('_', '-')}", dest=f"input_{role}", help=label)
        parser.add_argument("--wait", action="store_true", help="wait for the run to finish")
        parser.add_argument("--inline", action="store_true", help="run here instead of on a worker")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            spec = get(o["kind"])
        except UnknownKind as exc:
            raise CommandError(str(exc)) from None
        team = Team.objects.filter(slug=o["team"]).first()
        if team is None:
            raise CommandError(f"no team {o['team']!r}")
        recipe = _read_recipe(o["recipe"]) if o["recipe"] else {}
        if recipe.get("kind") not in (None, spec.name):
            raise CommandError(f"the recipe is for {recipe['kind']!r}, not {spec.name!r}")
        config = dict(recipe.get("config") or {})
        try:
            for item in o["set"]:
                key, sep, value = item.partition("=")
                if not sep:
                    raise CommandError(f"--set {item!r}: write KEY=VALUE")
                set_option(config, key.strip(), value)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        if o["override_reason"] is not None:
            config["override_reason"] = o["override_reason"]
        if o["confirm_inconsistent"]:
            config["confirm_inconsistent"] = True
        refs = {str(k): v for k, v in (recipe.get("inputs") or {}).items()}
        refs.update(
            {key[6:]: value for key, value in o.items() if key.startswith("input_") and value}
        )
        try:
            inputs = {}
            for role, ref in refs.items():
                try:
                    rule = spec.input(role)
                except KeyError:
                    inputs[role] = ref  # run_start names the roles the kind takes
                    continue
                inputs[role] = rule.find(team, str(ref))
            with transaction.atomic():
                run = run_start(
                    kind=spec.name,
                    team=team,
                    user=None,
                    inputs=inputs,
                    config=config,
                    name=o["name"] if o["name"] is not None else recipe.get("name", ""),
                    shard_size=o["shard_size"] or recipe.get("shard_size"),
                    enqueue=not o["inline"],
                    idempotency_key=o["idempotency_key"],
                )
        except TrainingError as exc:
            where = f"{exc.field}: " if exc.field and exc.field not in str(exc) else ""
            raise CommandError(f"{where}{exc}") from None
        shards = run.shards.count()
        self.stdout.write(
            f"run #{run.pk} ({spec.label}) queued: {run.total_units} {spec.progress_unit}, "
            f"{shards} shard{'s' if shards != 1 else ''}"
        )
        if o["inline"]:
            from training.shards import shard_execute

            for shard in run.shards.order_by("index"):
                shard_execute(shard.pk, worker="inline")
                run.refresh_from_db()
                self.stdout.write(status_line(run))
        elif o["wait"]:
            last = ""
            while True:
                run.refresh_from_db()
                line = status_line(run)
                if line != last:
                    self.stdout.write(line)
                    last = line
                if run.is_finished:
                    break
                time.sleep(2)
        run.refresh_from_db()
        self.stdout.write(status_line(run))
        if run.is_finished and run.status != "succeeded":
            raise CommandError(f"run #{run.pk} {run.status}: {run.error}")
