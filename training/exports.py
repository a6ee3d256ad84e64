"""The SL-CAI dataset of a critique-revision run, for training.

- ``trl`` JSONL: one conversational prompt/completion record per line,
  ``{"prompt": [{"role": "user", "content": ...}], "completion": [{"role": "assistant",
  "content": <final revision>}]}`` (the run's system prompt, if any, leads ``prompt``),
  which trl's SFTTrainer reads as is;
- a Hugging Face ``datasets`` folder (``save_to_disk``) with the same two columns,
  zipped, with ``provenance.json`` inside;
- ``provenance.json`` on its own: constitution version and hash, model, prompt set,
  the resolved config, counts.

Only examples whose every round has its revision are exported, so a cancelled or
half-finished run exports what is complete and says how many it left out.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from .kinds.base import need
from .kinds.critique_revision import DbResultStore
from .models import Run
from .services.prompt_sets import run_prompt_queryset


def _finished_states(run: Run) -> list[Any]:
    """The run's examples as engine states, read through the run's own result store."""
    prompt_ids = list(
        run_prompt_queryset(
            need(run.prompt_set, "prompt set"), run.prompt_selection, run.config_object()
        ).values_list("id", flat=True)
    )
    return list(DbResultStore(run, 0, len(prompt_ids), prompt_ids).load().values())


def _rounds(run: Run) -> int:
    return int(run.config.get("rounds", 1) or 1)


def _trl_lines(run: Run, states: list[Any] | None = None) -> Iterator[str]:
    from training.engine.export import to_trl_jsonl

    return to_trl_jsonl(
        _finished_states(run) if states is None else states,
        min_rounds=_rounds(run),
        system=run.config.get("system_prompt"),
    )


def sl_cai_records(run: Run) -> Iterator[dict[str, Any]]:
    """trl conversational prompt/completion records, in example order.

    The same rows the SFT run trains on: both go through ``training.engine.export``.
    """
    for line in _trl_lines(run):
        yield json.loads(line)


def provenance(run: Run, *, exported: int | None = None) -> dict[str, Any]:
    """Where an export comes from: the run, its constitution, model, prompts and config.

    ``examples_exported`` is the number of records the export holds (counted here when
    the caller does not say), never left empty.
    """
    if exported is None:
        exported = sum(1 for _ in _trl_lines(run))
    version = run.constitution_version
    model = run.model
    prompt_set = run.prompt_set
    return {
        "dataset": "SL-CAI critique-revision (Bai et al. 2022, stage 1)",
        "format": "trl conversational prompt/completion",
        "exported_at": timezone.now().isoformat(),
        "run": {
            "id": run.pk,
            "name": run.name,
            "kind": run.kind,
            "status": run.status,
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "examples_total": run.examples_total,
            "examples_exported": exported,
        },
        "constitution": {
            "name": version.constitution.name if version else None,
            "version": version.number if version else None,
            "content_hash": version.content_hash if version else None,
        },
        "model": {
            "name": model.name if model else None,
            "backend": model.backend if model else None,
            "location": model.location if model else None,
            "dtype": model.dtype if model else None,
        },
        "prompt_set": {
            "name": prompt_set.name if prompt_set else None,
            "source": prompt_set.source if prompt_set else None,
            "selection": run.prompt_selection,
            "subset": run.prompt_subset_text or "all of the selection",
            "split_seed": prompt_set.split_seed if prompt_set else None,
            "held_out_fraction": prompt_set.held_out_fraction if prompt_set else None,
        },
        "config": run.config,
    }


def write_trl_jsonl(run: Run, path: Path) -> int:
    """Write the JSONL file; return the number of records."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in sl_cai_records(run):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def save_sl_cai_dataset(
    run: Run, folder: Path, *, min_rounds: int | None = None, **extra_provenance: Any
):
    """Save the run's SL-CAI dataset as a ``datasets`` folder with ``provenance.json``.

    Returns the engine's ``ExportSummary``; raises ``ValueError`` when no example is
    finished (``min_rounds``: revised rounds an example needs; default all of the run's).
    ``datasets`` (pyarrow) is imported by the engine only; it does not import torch.
    """
    from training.engine.export import save_hf_dataset

    states = _finished_states(run)
    record = provenance(run, exported=sum(1 for _ in _trl_lines(run, states)))
    record.update(
        constitution_hash=run.constitution_version.content_hash
        if run.constitution_version
        else None,
        model=run.model.name if run.model else None,
        **extra_provenance,
    )
    return save_hf_dataset(
        states,
        folder,
        record,
        min_rounds=min_rounds or _rounds(run),
        system=run.config.get("system_prompt"),
    )


def hf_dataset_zip(run: Run) -> Path:
    """Build the ``datasets`` folder, zip it under ARTIFACTS_DIR and return the zip's path.

    Raises ``ValueError`` when the run has no finished example yet.
    """
    out_dir = Path(settings.ARTIFACTS_DIR) / "runs" / str(run.pk)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        folder = Path(tmp) / f"run-{run.pk}-sl-cai"
        save_sl_cai_dataset(run, folder)
        target = out_dir / f"run-{run.pk}-sl-cai-datasets.zip"
        staging = Path(tmp) / "out.zip"
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    zf.write(file, file.relative_to(folder.parent))
        shutil.move(staging, target)
    return target


EXPORT_FORMATS = {"datasets.zip": "Hugging Face datasets folder (zip)", "trl.jsonl": "trl JSONL"}


def dataset_export_start(*, run: Run, user: Any, fmt: str) -> Any:
    """Queue a worker to build the run's ``datasets`` zip or trl JSONL (a file job)."""
    from labelling.models import FileJob
    from labelling.services.filejobs import filejob_create, filejob_enqueue

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    job = filejob_create(
        team=run.team,
        user=user,
        kind=FileJob.Kind.DATASET_EXPORT,
        params={"run": run.pk, "format": fmt},
    )
    job.result_id = run.pk
    job.save(update_fields=["result_id"])
    filejob_enqueue(job, "labelling.dataset_export_file")
    return job


def dataset_export_run(job_id: int) -> Any:
    """The worker's side: build the file under ARTIFACTS_DIR and record it on the job."""
    from labelling.models import FileJob
    from labelling.services.filejobs import JobProgress, filejob_claim, filejob_end

    job = filejob_claim(job_id)
    if job is None:
        return None
    progress = JobProgress(job)
    run = Run.objects.get(pk=job.params["run"], team=job.team)
    try:
        progress.update(stage="building", done=0, total=run.examples_total or 0)
        if job.params["format"] == "datasets.zip":
            path = hf_dataset_zip(run)
        else:
            path = (
                Path(settings.ARTIFACTS_DIR)
                / "exports"
                / str(job.pk)
                / f"run-{run.pk}-sl-cai.jsonl"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_suffix(".part")
            count = write_trl_jsonl(run, part)
            part.replace(path)
            job.total = count
        filejob_end(
            job, status=FileJob.Status.DONE, artifact_path=str(path), artifact_name=path.name
        )
    except ImportError:
        filejob_end(
            job,
            status=FileJob.Status.FAILED,
            error="The datasets package is not installed on the worker.",
        )
    except ValueError as exc:  # nothing finished to export yet
        filejob_end(job, status=FileJob.Status.FAILED, error=f"Nothing to export: {exc}.")
    except Exception as exc:
        filejob_end(job, status=FileJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        progress.close()
    job.refresh_from_db()
    return job
