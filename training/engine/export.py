"""Export SL-CAI results as a supervised fine-tuning dataset.

Each finished example becomes one row in trl's conversational prompt-completion form:
``{"prompt": [{"role": "user", "content": <red-team prompt>}],
"completion": [{"role": "assistant", "content": <final revision>}]}``, which
``trl.SFTTrainer`` trains on directly (loss on the completion only). The paper's SL-CAI
model is fine-tuned on exactly these pairs: the original prompt and the last revision.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.engine.critique_revision import ExampleState

DATASET_FORMAT = "trl-conversational-prompt-completion"
REQUIRED_PROVENANCE = ("constitution_hash", "model", "config")


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote and what it left out, and why."""

    rows: int
    skipped_unfinished: int
    skipped_empty: int


def _final_revision(example: ExampleState, min_rounds: int) -> str | None:
    if example.rounds_revised < max(min_rounds, 1):
        return None
    return example.final_response


def sft_record(example: ExampleState, system: str | None = None) -> dict[str, Any]:
    """The prompt-completion row for one example (callers check it is finished first).

    ``system`` is the run's system prompt, if it had one: the model answered under it,
    so the training prompt carries it too.
    """
    prompt = [{"role": "user", "content": example.prompt}]
    if system:
        prompt.insert(0, {"role": "system", "content": system})
    return {
        "prompt": prompt,
        "completion": [{"role": "assistant", "content": example.final_response or ""}],
    }


def _rows(
    examples: Iterable[ExampleState],
    min_rounds: int,
    counts: dict[str, int],
    system: str | None = None,
) -> Iterator[tuple[ExampleState, dict[str, Any]]]:
    for example in sorted(examples, key=lambda e: e.index):
        revision = _final_revision(example, min_rounds)
        if revision is None:
            counts["unfinished"] += 1
        elif not revision.strip():
            counts["empty"] += 1
        else:
            yield example, sft_record(example, system)


def to_trl_jsonl(
    examples: Iterable[ExampleState], *, min_rounds: int = 1, system: str | None = None
) -> Iterator[str]:
    """One JSON line (no newline) per example with at least ``min_rounds`` revised rounds.

    Examples are written in index order; unfinished examples and empty revisions are
    left out (``save_hf_dataset`` reports how many).
    """
    counts = {"unfinished": 0, "empty": 0}
    for _, record in _rows(examples, min_rounds, counts, system):
        yield json.dumps(record, ensure_ascii=False)


def save_hf_dataset(
    examples: Iterable[ExampleState],
    folder: str | Path,
    provenance: dict[str, Any],
    *,
    min_rounds: int = 1,
    system: str | None = None,
) -> ExportSummary:
    """Write a ``datasets.Dataset.save_to_disk`` folder plus ``provenance.json``.

    Columns: ``prompt`` and ``completion`` (the trl format) and, for tracing a row back
    to its run, ``example_index`` and ``principle_keys``. ``provenance`` must name
    ``constitution_hash``, ``model`` and ``config`` and be JSON-serialisable; the row
    counts, the format and the export time are added to it. The folder is built
    beside ``folder`` and renamed into place, so a crash never leaves half a dataset;
    an existing non-empty ``folder`` is refused rather than overwritten.
    """
    missing = [key for key in REQUIRED_PROVENANCE if key not in provenance]
    if missing:
        raise ValueError(f"provenance is missing {', '.join(missing)}")
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} already exists and is not an empty folder")

    counts = {"unfinished": 0, "empty": 0}
    columns: dict[str, list[Any]] = {
        "prompt": [],
        "completion": [],
        "example_index": [],
        "principle_keys": [],
    }
    for example, record in _rows(examples, min_rounds, counts, system):
        columns["prompt"].append(record["prompt"])
        columns["completion"].append(record["completion"])
        columns["example_index"].append(example.index)
        columns["principle_keys"].append(
            [r.principle_key for r in example.rounds[: example.rounds_revised]]
        )
    summary = ExportSummary(
        rows=len(columns["prompt"]),
        skipped_unfinished=counts["unfinished"],
        skipped_empty=counts["empty"],
    )
    if summary.rows == 0:
        raise ValueError(
            f"no finished example to export ({summary.skipped_unfinished} unfinished, "
            f"{summary.skipped_empty} with an empty revision)"
        )
    record = {
        **provenance,
        "format": DATASET_FORMAT,
        "rows": summary.rows,
        "skipped_unfinished": summary.skipped_unfinished,
        "skipped_empty": summary.skipped_empty,
        "min_rounds": min_rounds,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    provenance_text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False)

    import datasets

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        datasets.Dataset.from_dict(columns).save_to_disk(str(staging))
        (staging / "provenance.json").write_text(provenance_text + "\n", encoding="utf-8")
        if folder.exists():
            folder.rmdir()  # empty, checked above
        os.rename(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return summary


def load_provenance(folder: str | Path) -> dict[str, Any]:
    """Read back the ``provenance.json`` that :func:`save_hf_dataset` wrote."""
    return json.loads((Path(folder) / "provenance.json").read_text(encoding="utf-8"))
