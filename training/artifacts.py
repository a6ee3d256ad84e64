"""Where a run keeps its files: datasets, pairs, checkpoints and the final model."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def run_dir(run_or_pk: object) -> Path:
    """``ARTIFACTS_DIR/runs/<pk>``: dataset/, pairs.jsonl, train/checkpoint-N, train/final."""
    pk = run_or_pk if isinstance(run_or_pk, int) else run_or_pk.pk  # type: ignore[attr-defined]
    return Path(settings.ARTIFACTS_DIR) / "runs" / str(pk)


__all__ = ["run_dir"]
