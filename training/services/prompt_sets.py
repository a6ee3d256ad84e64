"""Prompt sets: upload (all or nothing) and the prompts a run reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from django.db import transaction
from django.db.models import QuerySet

from cai_web.models import Team

from ..engine.prompt_sets import choose_subset
from ..errors import PromptSetError, TrainingError
from ..models import Prompt, PromptSelection, PromptSet, Split

# PromptSet.split_seed is a PositiveIntegerField: its range on every database.
MAX_SPLIT_SEED = 2_147_483_647


def promptset_import(
    *,
    team: Team,
    user: Any,
    name: str,
    data: bytes | None,
    filename: str,
    held_out_fraction: float = 0.1,
    split_seed: int = 0,
    source: str = "",
    limit: int | None = None,
    max_bytes: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    stream: BinaryIO | None = None,
) -> PromptSet:
    """Parse an uploaded prompt file and store it as a prompt set, all or nothing.

    The file is parsed completely before anything is written; any bad line rejects
    the whole file with every problem listed. ``limit`` keeps only the first N prompts
    (the demo uses it). ``stream`` (an open binary file, instead of ``data``) is read a
    line at a time, so a worker's big import never holds the file. The seeded split
    marks ``round(N * held_out_fraction)`` prompts as held out.
    """
    from training.engine.prompt_sets import (
        DEFAULT_MAX_BYTES,
        PromptFileError,
        parse_prompt_file,
        parse_prompt_stream,
        split_prompts,
    )

    name = (name or "").strip()
    if not name:
        raise TrainingError("Give the prompt set a name.", field="name")
    if len(name) > 120:
        raise TrainingError("The name is longer than 120 characters.", field="name")
    if not 0.0 <= held_out_fraction < 1.0:
        raise TrainingError(
            "The held-out fraction must be at least 0 and below 1.", field="held_out_fraction"
        )
    if isinstance(split_seed, bool) or not isinstance(split_seed, int):
        raise TrainingError("The split seed must be a whole number.", field="split_seed")
    if not 0 <= split_seed <= MAX_SPLIT_SEED:
        raise TrainingError(
            f"The split seed must be from 0 to {MAX_SPLIT_SEED:,}.", field="split_seed"
        )
    try:
        limit_bytes = max_bytes or DEFAULT_MAX_BYTES
        if stream is not None:
            parsed = parse_prompt_stream(stream, filename, max_bytes=limit_bytes)
        else:
            parsed = parse_prompt_file(data or b"", filename, max_bytes=limit_bytes)
    except PromptFileError as exc:
        raise PromptSetError(exc.problems) from None
    prompts = parsed.prompts[:limit] if limit else parsed.prompts
    _, held_out = split_prompts(prompts, held_out_fraction, split_seed)
    held = set(held_out)

    with transaction.atomic():
        if PromptSet.objects.filter(team=team, name=name).exists():
            raise TrainingError(f"The team already has a prompt set named {name!r}.", field="name")
        prompt_set = PromptSet.objects.create(
            team=team,
            name=name,
            source=source or filename,
            format=parsed.format,
            count=len(prompts),
            held_out_count=len(held),
            held_out_fraction=held_out_fraction,
            split_seed=split_seed,
            duplicates_removed=parsed.duplicates_removed,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        for start in range(0, len(prompts), PROMPT_BATCH):
            Prompt.objects.bulk_create(
                (
                    Prompt(
                        prompt_set=prompt_set,
                        index=i,
                        text=text,
                        split=Split.HELD_OUT if text in held else Split.TRAIN,
                    )
                    for i, text in enumerate(prompts[start : start + PROMPT_BATCH], start=start)
                ),
                batch_size=2000,
            )
            if on_progress is not None:
                on_progress(min(start + PROMPT_BATCH, len(prompts)), len(prompts))
    return prompt_set


PROMPT_BATCH = 20_000
MAX_PROMPT_IMPORT_BYTES = 2 * 1024**3  # a stored upload read by a worker


def promptset_import_start(
    *,
    team: Team,
    user: Any,
    name: str,
    upload_path: str,
    upload_name: str,
    upload_size: int,
    held_out_fraction: float = 0.1,
    split_seed: int = 0,
) -> Any:
    """Check the form's values and queue the import of a stored upload (a file job)."""
    from labelling.models import FileJob
    from labelling.services.filejobs import filejob_create, filejob_enqueue

    name = (name or "").strip()
    if not name:
        raise TrainingError("Give the prompt set a name.", field="name")
    if len(name) > 120:
        raise TrainingError("The name is longer than 120 characters.", field="name")
    if PromptSet.objects.filter(team=team, name=name).exists():
        raise TrainingError(f"The team already has a prompt set named {name!r}.", field="name")
    if not 0.0 <= held_out_fraction < 1.0:
        raise TrainingError(
            "The held-out fraction must be at least 0 and below 1.", field="held_out_fraction"
        )
    if split_seed < 0:
        raise TrainingError("The split seed must not be negative.", field="split_seed")
    if upload_size > MAX_PROMPT_IMPORT_BYTES:
        raise TrainingError(
            f"The file is larger than {MAX_PROMPT_IMPORT_BYTES:,} bytes.", field="file"
        )
    job = filejob_create(
        team=team,
        user=user,
        kind=FileJob.Kind.PROMPT_IMPORT,
        params={"name": name, "held_out_fraction": held_out_fraction, "split_seed": split_seed},
        upload_path=upload_path,
        upload_name=upload_name,
    )
    filejob_enqueue(job, "labelling.promptset_import_file")
    return job


def promptset_import_run(job_id: int) -> Any:
    """The worker's side: read the stored file, parse it (every problem: the first 100
    kept, the rest counted) and store the set in one transaction."""
    from labelling.formats import REPORTED_PROBLEMS
    from labelling.models import FileJob
    from labelling.services.filejobs import (
        JobCancelled,
        JobProgress,
        filejob_claim,
        filejob_end,
        filejob_release,
    )

    job = filejob_claim(job_id)
    if job is None:
        return None
    progress = JobProgress(job)

    def on_progress(done: int, total: int) -> None:
        progress.update(stage="storing", done=done, total=total)
        progress.check_cancelled()

    try:
        progress.update(stage="reading", done=0, total=0)
        with open(job.upload_path, "rb") as f, transaction.atomic():
            prompt_set = promptset_import(
                team=job.team,
                user=job.created_by,
                name=job.params["name"],
                data=None,
                stream=f,
                filename=job.upload_name,
                held_out_fraction=job.params["held_out_fraction"],
                split_seed=job.params["split_seed"],
                max_bytes=MAX_PROMPT_IMPORT_BYTES,
                on_progress=on_progress,
            )
            if not filejob_end(job, status=FileJob.Status.DONE, result_id=prompt_set.pk):
                raise JobCancelled()
    except JobCancelled:
        filejob_release(job)
    except PromptSetError as exc:
        filejob_end(
            job,
            status=FileJob.Status.FAILED,
            problems=exc.problems[:REPORTED_PROBLEMS],
            problem_count=len(exc.problems),
        )
    except TrainingError as exc:
        filejob_end(job, status=FileJob.Status.FAILED, error=str(exc))
    except Exception as exc:
        filejob_end(job, status=FileJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        progress.close()
    job.refresh_from_db()
    return job


def run_prompt_queryset(
    prompt_set: PromptSet, selection: str, subset: Any = None
) -> QuerySet[Prompt]:
    """The prompts a run over ``prompt_set`` uses, in order; example i is the i-th row.

    ``subset``: the run's config when its kind takes a subset (``PromptSubset``:
    ``prompt_limit``, ``prompt_subset``, and its ``seed`` for a random draw), so a run
    over N prompts needs no re-upload; the rule which N lives in
    :func:`training.engine.prompt_sets.choose_subset`.
    """
    qs = Prompt.objects.filter(prompt_set=prompt_set)
    if selection != PromptSelection.ALL:
        qs = qs.filter(split=selection)
    qs = qs.order_by("index")
    limit = getattr(subset, "prompt_limit", None)
    if not limit:
        return qs
    how = getattr(subset, "prompt_subset", "first")
    if how == "first":
        return qs[:limit]
    indices = list(qs.values_list("index", flat=True))
    chosen = choose_subset(indices, limit, how, int(getattr(subset, "seed", 0) or 0))
    return qs.filter(index__in=chosen)
