"""Demo data for the training app, called by ``seed_demo`` and ``prepare_demo_model``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from cai_web.models import Role, Team

from . import services
from .models import ModelEntry, PromptSet

DEMO_PROMPT_SET = "HH-RLHF red team (first 64)"
DEMO_PROMPT_COUNT = 64
DEMO_MODEL_NAME = "SmolLM2-135M-Instruct (demo)"
DEMO_MODEL_DIRNAME = "smollm2-135m-instruct"
HH_FILE = "hh-rlhf-harmless-base-test.jsonl.gz"


def _say(stdout: Any, message: str) -> None:
    if stdout is not None:
        stdout.write(message)


def seed(*, team: Team, users: dict[str, Any], stdout: Any = None) -> None:
    """Give the demo team a prompt set of the first 64 red-team prompts and the demo model.

    The prompts are read from CAI_SHARED_DATA at seed time; a missing file is reported
    and skipped. The model is registered only once ``prepare_demo_model`` has made it.
    """
    author = users.get(Role.AUTHOR) or users.get("author")
    if not PromptSet.objects.filter(team=team, name=DEMO_PROMPT_SET).exists():
        path = Path(settings.SHARED_DATA_DIR) / HH_FILE
        if not path.is_file():
            _say(stdout, f"skipped the demo prompt set: {path} is missing (set CAI_SHARED_DATA)")
        else:
            prompt_set = services.promptset_import(
                team=team,
                user=author,
                name=DEMO_PROMPT_SET,
                data=path.read_bytes(),
                filename=path.name,
                held_out_fraction=0.25,
                split_seed=0,
                source=f"{path.name} (first {DEMO_PROMPT_COUNT} prompts)",
                limit=DEMO_PROMPT_COUNT,
            )
            _say(stdout, f"prompt set {prompt_set.name!r}: {prompt_set.count} prompts")
    model_dir = Path(settings.MODELS_DIR) / DEMO_MODEL_DIRNAME
    if (model_dir / "config.json").is_file():
        register_demo_model(model_dir)
    else:
        _say(stdout, "demo model not prepared yet: run `manage.py prepare_demo_model`")


def register_demo_model(path: Path | str) -> list[ModelEntry]:
    """Register the demo model folder for every team that has no model of that name."""
    created = []
    for team in Team.objects.exclude(models__name=DEMO_MODEL_NAME):
        created.append(
            services.model_register(
                team=team,
                user=None,
                name=DEMO_MODEL_NAME,
                path=str(path),
                dtype="float32",
                context_length=8192,
            )
        )
    return created
