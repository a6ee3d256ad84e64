"""``manage.py promptset_import <team-slug> <file> [--name] [--held-out 0.1] [--seed 0]``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cai_web.models import Team
from training import services


class Command(BaseCommand):
    help = "Import a prompt file (JSONL, CSV, text, HH-RLHF; .gz accepted) as a prompt set."

    def add_arguments(self, parser) -> None:
        parser.add_argument("team", help="team slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--name", help="defaults to the file name")
        parser.add_argument("--held-out", type=float, default=0.1, help="held-out fraction")
        parser.add_argument("--seed", type=int, default=0, help="split seed")
        parser.add_argument("--limit", type=int, default=None, help="keep only the first N prompts")

    def handle(self, *args, team: str, file: Path, name, held_out, seed, limit, **options) -> None:
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"no team with slug {team!r}")
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        try:
            prompt_set = services.promptset_import(
                team=team_obj,
                user=None,
                name=name or file.name,
                data=file.read_bytes(),
                filename=file.name,
                held_out_fraction=held_out,
                split_seed=seed,
                limit=limit,
            )
        except services.PromptSetError as exc:
            raise CommandError("nothing imported:\n  " + "\n  ".join(exc.problems)) from None
        except services.TrainingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"prompt set #{prompt_set.pk} {prompt_set.name!r}: {prompt_set.count} prompts "
            f"({prompt_set.held_out_count} held out, {prompt_set.duplicates_removed} duplicates removed)"
        )
