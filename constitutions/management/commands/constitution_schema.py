"""Print, write or check docs/constitution.schema.json, generated from the content limits."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from constitutions.formats import SCHEMA_PATH
from constitutions.formats.schema import schema_text, write_schema


class Command(BaseCommand):
    help = (
        "Generate the JSON Schema of a constitution export from constitutions/content/limits.py: "
        "print it, --write it to docs/constitution.schema.json, or --check that file is current."
    )
    # Plain generation from the limits: needs no database, URLs or other apps.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--write", action="store_true", help=f"write {SCHEMA_PATH.name}")
        action.add_argument(
            "--check", action="store_true", help="exit 1 if the committed file is stale"
        )

    def handle(self, *args: Any, write: bool, check: bool, **options: Any) -> None:
        if write:
            changed = write_schema()
            self.stdout.write(f"{'Wrote' if changed else 'Unchanged:'} {SCHEMA_PATH}")
        elif check:
            current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
            if current != schema_text():
                raise CommandError(
                    f"{SCHEMA_PATH} is stale; run `manage.py constitution_schema --write`."
                )
            self.stdout.write(f"{SCHEMA_PATH} is current.")
        else:
            self.stdout.write(schema_text(), ending="")
