"""Label-set exports (JSONL, CSV) written by a worker to ``ARTIFACTS_DIR/exports/<job>/``;
the page shows the job's progress and links to the file when it is there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings

from .. import formats
from ..models import FileJob, LabelSet
from .common import LabellingError
from .filejobs import (
    JobCancelled,
    JobProgress,
    filejob_claim,
    filejob_create,
    filejob_end,
    filejob_enqueue,
)

EXPORT_FORMATS = ("jsonl", "csv")
EXPORT_CHUNK = 2000


def export_dir(job: FileJob) -> Path:
    path = Path(settings.ARTIFACTS_DIR) / "exports" / str(job.pk)
    path.mkdir(parents=True, exist_ok=True)
    return path


def labelset_export_start(*, label_set: LabelSet, user: Any, fmt: str) -> FileJob:
    if fmt not in EXPORT_FORMATS:
        raise LabellingError("Export as .jsonl or .csv.", field="fmt")
    job = filejob_create(
        team=label_set.team,
        user=user,
        kind=FileJob.Kind.LABEL_EXPORT,
        params={"label_set": label_set.pk, "format": fmt},
    )
    job.result_id = label_set.pk
    job.save(update_fields=["result_id"])
    filejob_enqueue(job, "labelling.labelset_export_file")
    return job


def labelset_export_run(job_id: int) -> FileJob | None:
    """Write the export file (to a temporary name, renamed when complete)."""
    from .. import selectors

    job = filejob_claim(job_id)
    if job is None:
        return None
    progress = JobProgress(job)
    fmt = job.params["format"]
    label_set = LabelSet.objects.get(pk=job.params["label_set"], team=job.team)
    name = f"labelset-{label_set.pk}.{fmt}"
    final = export_dir(job) / name
    part = final.with_suffix(final.suffix + ".part")
    total = max(label_set.ai_label_count, label_set.comparison_count)
    try:
        done = 0
        with open(part, "wb") as out:
            batch: list[formats.LabelRecord] = []
            header = True
            for record in selectors.export_records(label_set):
                batch.append(record)
                if len(batch) == EXPORT_CHUNK:
                    out.write(encode(fmt, batch, header))
                    done += len(batch)
                    header, batch = False, []
                    progress.update(stage="writing", done=done, total=max(total, done))
                    progress.check_cancelled()
            if batch or header:
                out.write(encode(fmt, batch, header))
                done += len(batch)
        os.replace(part, final)
        job.total = max(total, done)
        filejob_end(job, status=FileJob.Status.DONE, artifact_path=str(final), artifact_name=name)
    except JobCancelled:
        part.unlink(missing_ok=True)
    except Exception as exc:
        part.unlink(missing_ok=True)
        filejob_end(job, status=FileJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        progress.close()
    job.refresh_from_db()
    return job


def encode(fmt: str, batch: list[formats.LabelRecord], header: bool) -> bytes:
    """One chunk of an export; CSV chunks after the first leave out the header row."""
    if fmt == "jsonl":
        return formats.export_jsonl(batch).encode()
    text = formats.export_csv(batch)
    if not header:
        text = text.split("\n", 1)[1]
    return text.encode()
