"""Big label-file imports: the request stores the upload and starts a job; a worker checks
every line, then stores all of it in one transaction (nothing when any line is bad, and
nothing left by a cancellation or a crash: the transaction is rolled back)."""

from __future__ import annotations

import os
from typing import Any

from django.db import transaction

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, Principle, VersionStatus

from .. import formats
from ..models import FileJob, LabelSet
from .common import IMPORT_FORMATS, LabellingError
from .filejobs import (
    JobCancelled,
    JobProgress,
    filejob_claim,
    filejob_create,
    filejob_end,
    filejob_enqueue,
    filejob_release,
)
from .labelsets import labelset_create, labelset_store_records, principles_of

IMPORT_BATCH = 10_000
WHOLE_DOCUMENT_FORMATS = ("llmbar", "pandalm", formats.CAI_PAPER_FORMAT)


def labelset_import_start(
    *,
    team: Team,
    user: Any,
    name: str,
    fmt: str,
    upload_path: str,
    upload_name: str,
    upload_size: int,
    judge: str = "",
    dataset_name: str = "",
    principle_version: ConstitutionVersion | None = None,
    description: str = "",
) -> FileJob:
    """Check what can be checked at once and queue the import of a stored upload."""
    name = (name or "").strip()
    if not name:
        raise LabellingError("Give the label set a name.", field="name")
    if fmt not in IMPORT_FORMATS:
        raise LabellingError(f"Unknown format {fmt!r}.", field="fmt")
    if fmt == "llmbar" and (not judge.strip() or not dataset_name.strip()):
        raise LabellingError(
            "An LLMBar import needs the judge's name and the dataset's name.",
            field="judge" if not judge.strip() else "dataset_name",
        )
    if LabelSet.objects.filter(team=team, name=name).exists():
        raise LabellingError(f"This team already has a label set called {name!r}.", field="name")
    limit = (
        formats.MAX_LABEL_FILE_BYTES if fmt in WHOLE_DOCUMENT_FORMATS else formats.MAX_IMPORT_BYTES
    )
    if upload_size > limit:
        raise LabellingError(f"The file is larger than {limit:,} bytes.", field="file")
    if principle_version is not None and (
        principle_version.constitution.team_id != team.pk
        or principle_version.status != VersionStatus.PUBLISHED
    ):
        raise LabellingError(
            "Choose a published constitution version of this team.", field="principle_version"
        )
    job = filejob_create(
        team=team,
        user=user,
        kind=FileJob.Kind.LABEL_IMPORT,
        params={
            "name": name,
            "format": fmt,
            "judge": judge.strip(),
            "dataset": dataset_name.strip(),
            "principle_version": principle_version.pk if principle_version else None,
            "description": description,
        },
        upload_path=upload_path,
        upload_name=upload_name,
    )
    filejob_enqueue(job, "labelling.labelset_import_file")
    return job


def labelset_import_run(job_id: int, *, batch_size: int = IMPORT_BATCH) -> FileJob | None:
    """The worker's side of an import (the task calls this); returns the job at its end."""
    job = filejob_claim(job_id)
    if job is None:
        job = FileJob.objects.filter(pk=job_id, status=FileJob.Status.CANCELLED).first()
        if job is not None:
            filejob_release(job)
        return None
    progress = JobProgress(job)
    try:
        _import(job, progress, batch_size)
    except JobCancelled:
        filejob_release(job)
    except formats.LabelFormatError as exc:
        filejob_end(
            job,
            status=FileJob.Status.FAILED,
            problems=exc.problems[: formats.REPORTED_PROBLEMS],
            problem_count=getattr(exc, "problem_count", len(exc.problems)),
        )
    except LabellingError as exc:
        filejob_end(job, status=FileJob.Status.FAILED, error=str(exc))
    except Exception as exc:
        filejob_end(job, status=FileJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        progress.close()
    job.refresh_from_db()
    return job


class _Problems(formats.LabelFormatError):
    def __init__(self, log: formats.ProblemLog) -> None:
        super().__init__(log.shown)
        self.problem_count = log.count


def _import(job: FileJob, progress: JobProgress, batch_size: int) -> None:
    """One pass inside one transaction: store good batches while no line was bad, keep
    checking (without storing) after the first bad one, and roll back if any was."""
    params = job.params
    version = None
    if params.get("principle_version"):
        version = ConstitutionVersion.objects.select_related("constitution").get(
            pk=params["principle_version"], constitution__team=job.team
        )
    principles = principles_of(version)
    path = job.upload_path
    size = os.path.getsize(path)
    log = formats.ProblemLog()
    parsed: list[formats.LabelRecord] = []
    if params["format"] in WHOLE_DOCUMENT_FORMATS:
        with open(path, "rb") as f:
            data = f.read(formats.MAX_LABEL_FILE_BYTES + 1)
        parsed = formats.parse_document(
            params["format"], data, judge=params["judge"], dataset_name=params["dataset"]
        )
        for i, rec in enumerate(parsed):
            _check_principle(rec, principles, version, f"record {i} ({rec.id})", log)
        if log:
            raise _Problems(log)
        batch_size = max(len(parsed), 1)  # one pair may repeat (once per judge): one batch

    progress.update(stage="importing", done=0, total=size)
    with transaction.atomic():
        label_set = labelset_create(
            team=job.team,
            user=job.created_by,
            name=params["name"],
            source_kind=LabelSet.SourceKind.IMPORT,
            source_detail={
                "format": params["format"],
                "judge": params["judge"],
                "dataset": params["dataset"],
                "file": job.upload_name,
            },
            description=params.get("description", ""),
        )
        total = 0
        if parsed:
            labelset_store_records(
                label_set=label_set, records=parsed, principles=principles, fresh=True
            )
            total = len(parsed)
        else:
            stream, raw = formats.open_upload(path)
            batch: list[formats.LabelRecord] = []
            with stream, raw:
                for lineno, rec in formats.iter_label_jsonl(stream, log):
                    _check_principle(rec, principles, version, f"line {lineno}", log)
                    total += 1
                    if not log:
                        batch.append(rec)
                    if total % batch_size == 0:
                        if batch and not log:
                            labelset_store_records(
                                label_set=label_set,
                                records=batch,
                                principles=principles,
                                fresh=True,
                            )
                        batch = []
                        progress.update(stage="importing", done=raw.tell(), total=size)
                        progress.check_cancelled()
                if batch and not log:
                    labelset_store_records(
                        label_set=label_set, records=batch, principles=principles, fresh=True
                    )
            if not log and not total:
                log.add("file contains no records")
            if log:
                raise _Problems(log)  # rolls back every batch stored so far
        LabelSet.objects.filter(pk=label_set.pk).update(
            source_detail={**label_set.source_detail, "records": total}
        )
        job.total = size
        if not filejob_end(job, status=FileJob.Status.DONE, result_id=label_set.pk):
            raise JobCancelled()  # cancelled after the last check: roll back


def _check_principle(
    rec: formats.LabelRecord,
    principles: dict[str, Principle],
    version: ConstitutionVersion | None,
    where: str,
    log: formats.ProblemLog,
) -> None:
    if principles and rec.principle is not None and rec.principle not in principles:
        log.add(f"{where}: principle {rec.principle!r} is not in {version}")
