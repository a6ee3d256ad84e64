"""Writes of the training app (HackSoft services): prompt sets, the model registry,
and the run lifecycle. Each submodule serves one entity; the names are re-exported
here so callers write ``from training.services import run_start``."""

from ..errors import PromptSetError, TrainingError
from .models import model_register, trained_model_register
from .prompt_sets import (
    promptset_import,
    promptset_import_run,
    promptset_import_start,
    run_prompt_queryset,
)
from .runs import (
    DEFAULT_SHARD_SIZE,
    MAX_SHARD_SIZE,
    enqueue_shards,
    run_cancel,
    run_resume,
    run_start,
    run_start_once,
)

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "MAX_SHARD_SIZE",
    "PromptSetError",
    "TrainingError",
    "enqueue_shards",
    "model_register",
    "promptset_import",
    "promptset_import_run",
    "promptset_import_start",
    "run_cancel",
    "run_prompt_queryset",
    "run_resume",
    "run_start",
    "run_start_once",
    "trained_model_register",
]
