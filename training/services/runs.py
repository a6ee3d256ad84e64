"""Writes of the training app: prompt sets, the model registry, and the run lifecycle.

What a worker does once it holds a shard lives in :mod:`training.execution`; this
module decides what may start, stop, resume or be re-queued, and queues the tasks
with ``delay_on_commit`` so a worker never sees an uncommitted row.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, VersionStatus

from .models import (
    ACTIVE_STATUSES,
    Backend,
    ModelEntry,
    Prompt,
    PromptSelection,
    PromptSet,
    Run,
    RunKind,
    RunShard,
    RunStatus,
    Split,
)

MAX_SHARD_SIZE = 100_000
DEFAULT_SHARD_SIZE = 256
# A shard whose worker died this many times is failed instead of re-queued again:
# something in it (a prompt, the model) kills workers, and a person should look.
MAX_SHARD_ATTEMPTS = 5


class TrainingError(Exception):
    """A request that cannot be honoured; the message is shown to the user as is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PromptSetError(TrainingError):
    """An upload was rejected; ``problems`` lists every reason (line numbers included)."""

    def __init__(self, problems: list[str], *, field: str | None = "file") -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems), field=field)


# --- prompt sets ----------------------------------------------------------------------


def promptset_import(
    *,
    team: Team,
    user: Any,
    name: str,
    data: bytes,
    filename: str,
    held_out_fraction: float = 0.1,
    split_seed: int = 0,
    source: str = "",
    limit: int | None = None,
) -> PromptSet:
    """Parse an uploaded prompt file and store it as a prompt set, all or nothing.

    The file is parsed completely before anything is written; any bad line rejects
    the whole file with every problem listed. ``limit`` keeps only the first N prompts
    (the demo uses it). The seeded split marks ``round(N * held_out_fraction)``
    prompts as held out.
    """
    from training.engine.prompt_sets import PromptFileError, parse_prompt_file, split_prompts

    name = (name or "").strip()
    if not name:
        raise TrainingError("Give the prompt set a name.", field="name")
    if len(name) > 120:
        raise TrainingError("The name is longer than 120 characters.", field="name")
    if not 0.0 <= held_out_fraction < 1.0:
        raise TrainingError(
            "The held-out fraction must be at least 0 and below 1.", field="held_out_fraction"
        )
    if split_seed < 0:
        raise TrainingError("The split seed must not be negative.", field="split_seed")
    try:
        parsed = parse_prompt_file(data, filename)
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
        Prompt.objects.bulk_create(
            (
                Prompt(
                    prompt_set=prompt_set,
                    index=i,
                    text=text,
                    split=Split.HELD_OUT if text in held else Split.TRAIN,
                )
                for i, text in enumerate(prompts)
            ),
            batch_size=2000,
        )
    return prompt_set


# --- model registry -------------------------------------------------------------------


def _check_local_model(path: str, gguf_file: str) -> tuple[str, str]:
    if not path:
        raise TrainingError("Give the model's local folder or .gguf file.", field="path")
    location = Path(path).expanduser()
    if not location.is_absolute():
        location = Path(settings.MODELS_DIR) / location
    if not location.exists():
        raise TrainingError(f"{location} does not exist on this machine.", field="path")
    if location.is_file():
        if location.suffix.lower() != ".gguf":
            raise TrainingError(f"{location} is a file but not a .gguf file.", field="path")
        return str(location.parent), location.name
    if gguf_file:
        if not (location / gguf_file).is_file():
            raise TrainingError(f"{gguf_file} is not in {location}.", field="gguf_file")
        return str(location), gguf_file
    if not (location / "config.json").is_file():
        ggufs = sorted(p.name for p in location.glob("*.gguf"))
        hint = f" It holds {', '.join(ggufs)}: name one as the GGUF file." if ggufs else ""
        raise TrainingError(
            f"{location} has no config.json, so it is not a transformers model folder.{hint}",
            field="path",
        )
    return str(location), ""


def model_register(
    *,
    team: Team,
    user: Any,
    name: str,
    backend: str = Backend.TRANSFORMERS,
    path: str = "",
    gguf_file: str = "",
    dtype: str = "auto",
    context_length: int = 2048,
    base_url: str = "",
    options: dict[str, Any] | None = None,
    source_run: Run | None = None,
) -> ModelEntry:
    """Add a model to the team's registry after checking that it can be found.

    Local backends need an existing folder with ``config.json`` or a GGUF file; the
    openai backend needs an http(s) URL. Nothing is loaded here: loading is the GPU
    worker's job.
    """
    name = (name or "").strip()
    if not name:
        raise TrainingError("Give the model a name.", field="name")
    if backend not in Backend.values:
        raise TrainingError(f"Unknown backend {backend!r}.", field="backend")
    if not isinstance(context_length, int) or context_length < 1:
        raise TrainingError(
            "The context length must be a positive integer.", field="context_length"
        )
    if options is not None and not isinstance(options, dict):
        raise TrainingError("Options must be a JSON object.", field="options")
    if backend == Backend.OPENAI:
        parsed = urlparse(base_url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise TrainingError(
                "Give the server's http(s) base URL, e.g. http://host:8000/v1.", field="base_url"
            )
        path, gguf_file = "", ""
    else:
        path, gguf_file = _check_local_model(path.strip(), gguf_file.strip())
        base_url = ""
    entry = ModelEntry(
        team=team,
        name=name,
        backend=backend,
        path=path,
        gguf_file=gguf_file,
        dtype=dtype or "auto",
        context_length=context_length,
        base_url=base_url,
        options=options or {},
        source_run=source_run,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    try:
        entry.to_spec()
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise TrainingError(f"The team already has a model named {name!r}.", field="name") from None
    return entry


# --- runs -----------------------------------------------------------------------------


def _enqueue_shards(shard_ids: list[int]) -> None:
    from training import tasks

    for shard_id in shard_ids:
        tasks.run_shard.delay_on_commit(shard_id)


def _shard_ranges(n: int, shard_size: int) -> list[tuple[int, int]]:
    count = max(1, math.ceil(n / shard_size))
    # Near-equal contiguous shards rather than size-sized ones plus a stub at the end.
    base, extra = divmod(n, count)
    ranges, start = [], 0
    for s in range(count):
        size = base + (1 if s < extra else 0)
        ranges.append((start, start + size))
        start += size
    return ranges


def run_prompt_queryset(prompt_set: PromptSet, selection: str):
    """The prompts a run over ``prompt_set`` uses, in order; example i is the i-th row."""
    qs = Prompt.objects.filter(prompt_set=prompt_set)
    if selection != PromptSelection.ALL:
        qs = qs.filter(split=selection)
    return qs.order_by("index")


@transaction.atomic
def critique_revision_start(
    *,
    team: Team,
    user: Any,
    version: ConstitutionVersion,
    prompt_set: PromptSet,
    model: ModelEntry,
    config: Any,
    prompt_selection: str = PromptSelection.TRAIN,
    shard_size: int = DEFAULT_SHARD_SIZE,
    name: str = "",
    enqueue: bool = True,
) -> Run:
    """Create a critique-revision run with its shards and queue one task per shard.

    ``enqueue=False`` leaves the shards queued in the database only, for a caller
    that runs them itself (``run_critique_revision --inline``, benchmarks).

    Refuses drafts and archived versions, objects of another team, an empty prompt
    selection and a constitution nothing can be drawn from.
    """
    from constitutions.content import ContentError
    from constitutions.sampler import principle_probabilities
    from constitutions.selectors import version_content, version_with_content
    from training.engine.critique_revision import CritiqueRevisionConfig

    if version.constitution.team_id != team.pk:
        raise TrainingError("That constitution version belongs to another team.", field="version")
    if version.status != VersionStatus.PUBLISHED:
        raise TrainingError(
            f"{version} is {version.status}: only published versions can be run.", field="version"
        )
    if prompt_set.team_id != team.pk:
        raise TrainingError("That prompt set belongs to another team.", field="prompt_set")
    if model.team_id != team.pk:
        raise TrainingError("That model belongs to another team.", field="model")
    if not isinstance(config, CritiqueRevisionConfig):
        raise TrainingError("The run needs a CritiqueRevisionConfig.")
    if prompt_selection not in PromptSelection.values:
        raise TrainingError(
            f"Unknown prompt selection {prompt_selection!r}.", field="prompt_selection"
        )
    if not isinstance(shard_size, int) or not 1 <= shard_size <= MAX_SHARD_SIZE:
        raise TrainingError(
            f"The shard size must be from 1 to {MAX_SHARD_SIZE:,}.", field="shard_size"
        )
    try:
        principle_probabilities(version_content(version_with_content(version.pk)))
    except ContentError as exc:
        raise TrainingError(str(exc), field="version") from None
    n = run_prompt_queryset(prompt_set, prompt_selection).count()
    if n == 0:
        raise TrainingError(
            f"{prompt_set} has no prompts in the {PromptSelection(prompt_selection).label.lower()}.",
            field="prompt_selection",
        )
    units = config.units_per_example
    run = Run.objects.create(
        team=team,
        kind=RunKind.CRITIQUE_REVISION,
        name=name.strip()[:200],
        config=config.to_dict(),
        constitution_version=version,
        prompt_set=prompt_set,
        prompt_selection=prompt_selection,
        model=model,
        shard_size=shard_size,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        total_units=n * units,
        examples_total=n,
    )
    shards = RunShard.objects.bulk_create(
        RunShard(run=run, index=i, start=start, end=end, total_units=(end - start) * units)
        for i, (start, end) in enumerate(_shard_ranges(n, shard_size))
    )
    if not all(s.pk for s in shards):  # backends that do not return ids on bulk_create
        shards = list(run.shards.order_by("index"))
    if enqueue:
        _enqueue_shards([s.pk for s in shards])
    return run


@transaction.atomic
def run_cancel(*, run: Run, user: Any = None) -> Run:
    """Ask a run to stop. Queued shards stop now; running ones stop after their batch.

    Everything already generated is kept; a cancelled run can be resumed.
    """
    from training.execution import run_settle

    current = Run.objects.select_for_update().get(pk=run.pk)
    if current.status not in ACTIVE_STATUSES:
        raise TrainingError(
            f"The run is {current.get_status_display().lower()}; there is nothing to cancel."
        )
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    RunShard.objects.filter(run=run, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now()
    )
    run_settle(run.pk)
    run.refresh_from_db()
    return run


@transaction.atomic
def run_resume(*, run: Run, user: Any = None) -> Run:
    """Re-queue every unfinished shard of a failed or cancelled run.

    The engine skips what each shard already stored, so a resumed run only
    generates what is missing.
    """
    current = Run.objects.select_for_update().get(pk=run.pk)
    if not current.can_resume:
        raise TrainingError(
            f"Only failed or cancelled runs can be resumed; this one is {current.status}."
        )
    shard_ids = list(
        RunShard.objects.filter(run=run)
        .exclude(status__in=(RunStatus.SUCCEEDED, RunStatus.RUNNING))
        .values_list("pk", flat=True)
    )
    # ``attempts`` stays: it is the fencing token and must only grow.
    RunShard.objects.filter(pk__in=shard_ids).update(
        status=RunStatus.QUEUED, error="", finished_at=None, lost=0
    )
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.QUEUED,
        cancel_requested=False,
        error="",
        finished_at=None,
        eta_seconds=None,
    )
    _enqueue_shards(shard_ids)
    run.refresh_from_db()
    return run


def runs_reap_stale(*, stale_seconds: int | None = None, now=None) -> list[int]:
    """Re-queue shards whose worker stopped sending heartbeats; return their ids.

    A worker killed mid-shard (OOM, preemption, kill -9) leaves its shard ``running``
    with an old heartbeat. The shard goes back to ``queued`` with a fresh task; its
    stored examples are kept and skipped. After ``MAX_SHARD_ATTEMPTS`` the shard fails
    instead, so a poison shard cannot loop forever.
    """
    from training.execution import run_settle

    stale_seconds = settings.RUN_HEARTBEAT_STALE_SECONDS if stale_seconds is None else stale_seconds
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=stale_seconds)
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    requeued: list[int] = []
    for shard in RunShard.objects.filter(stale, status=RunStatus.RUNNING).only(
        "pk", "run_id", "attempts", "lost"
    ):
        with transaction.atomic():
            # The attempt number fences the shard: if the worker came back and wrote a
            # heartbeat (or another reaper got here first) nothing matches.
            fenced = RunShard.objects.filter(
                stale, pk=shard.pk, status=RunStatus.RUNNING, attempts=shard.attempts
            )
            if shard.lost + 1 >= MAX_SHARD_ATTEMPTS:
                if fenced.update(
                    status=RunStatus.FAILED,
                    finished_at=now,
                    lost=F("lost") + 1,
                    error=f"its worker stopped answering {shard.lost + 1} times; giving up",
                ):
                    run_settle(shard.run_id)
                continue
            if not fenced.update(status=RunStatus.QUEUED, worker="", error="", lost=F("lost") + 1):
                continue
            if Run.objects.filter(pk=shard.run_id, cancel_requested=True).exists():
                RunShard.objects.filter(pk=shard.pk).update(
                    status=RunStatus.CANCELLED, finished_at=now
                )
                run_settle(shard.run_id)
                continue
            _enqueue_shards([shard.pk])
            requeued.append(shard.pk)
    return requeued
