"""The run lifecycle: start any kind, cancel, resume, re-queue stale shards.

``run_start`` is the one way a run begins, whatever asks (a launch form, the
``run_start`` command, a benchmark, the API): it looks the kind up in the registry,
checks every input against the kind's rules (the same rules the form offers its
choices from), builds the kind's config strictly, plans the shards and queues one
task per shard with ``delay_on_commit`` so a worker never sees an uncommitted row.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cai_web.models import Team

from ..engine.config import ConfigError
from ..errors import IdempotencyConflict, TrainingError
from ..kinds.registry import UnknownKind, get
from ..models import ACTIVE_STATUSES, Run, RunShard, RunStatus
from ..shards import run_settle

MAX_SHARD_SIZE = 100_000
DEFAULT_SHARD_SIZE = 256


def _user(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def enqueue_shards(shard_ids: list[int]) -> None:
    from training import tasks

    for shard_id in shard_ids:
        tasks.run_shard.delay_on_commit(shard_id)


MAX_IDEMPOTENCY_KEY = 200


def launch_fingerprint(
    *,
    kind: str,
    inputs: dict[str, Any],
    config: Any,
    name: str,
    shard_size: Any,
) -> str:
    """What a start asked for, hashed: a retry with the same key must ask the same."""
    body = {
        "kind": kind,
        "inputs": {role: getattr(v, "pk", v) for role, v in sorted(inputs.items())},
        "config": config,
        "name": (name or "").strip(),
        "shard_size": shard_size,
    }
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def _replay(team: Team, key: str, kind: str, fingerprint: str) -> Run | None:
    """The run ``key`` already started in ``team``; refused when it was asked otherwise."""
    existing = Run.objects.select_for_update().filter(team=team, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.kind != kind:
        raise IdempotencyConflict(
            f"That idempotency key already started run #{existing.pk} of another kind.",
            field="idempotency_key",
        )
    if existing.idempotency_fingerprint and existing.idempotency_fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"That idempotency key already started run #{existing.pk} with a different "
            "request; use a new key for a new run.",
            field="idempotency_key",
        )
    return existing


def run_start(
    *,
    kind: str,
    team: Team,
    user: Any,
    inputs: dict[str, Any],
    config: dict[str, Any] | None = None,
    name: str = "",
    shard_size: int | None = None,
    enqueue: bool = True,
    idempotency_key: str = "",
) -> Run:
    """Start a run (see :func:`run_start_once`, which also says whether it was a replay)."""
    run, _ = run_start_once(
        kind=kind,
        team=team,
        user=user,
        inputs=inputs,
        config=config,
        name=name,
        shard_size=shard_size,
        enqueue=enqueue,
        idempotency_key=idempotency_key,
    )
    return run


@transaction.atomic
def run_start_once(
    *,
    kind: str,
    team: Team,
    user: Any,
    inputs: dict[str, Any],
    config: dict[str, Any] | None = None,
    name: str = "",
    shard_size: int | None = None,
    enqueue: bool = True,
    idempotency_key: str = "",
) -> tuple[Run, bool]:
    """Start a run of ``kind`` on ``inputs`` (role → object) with ``config`` (options);
    returns (run, replayed).

    Steps: the kind's spec; every input role checked by its rule (unknown roles
    refused); the kind's cross-input checks (approval of a label set, a drawable
    constitution, non-empty prompts); the run row; the resolved config (it may need
    the run's id for its artifact folder); the shards; the tasks. Any refusal raises
    :class:`TrainingError` naming the field, and nothing is written.

    ``enqueue=False`` leaves the shards queued in the database only, for a caller
    that runs them itself (``run_start --inline``, benchmarks). ``idempotency_key``
    (up to 200 characters; the one idempotency mechanism, for launch pages and the
    API alike): a second start with the same key in the same team returns the first
    run and starts nothing (a double-clicked launch button, a retried job), with
    ``replayed`` true; the same key with another request is refused
    (:class:`IdempotencyConflict`). The run row carries the key and the request's
    fingerprint, so the run and its key are written together or not at all.
    """
    key = (idempotency_key or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise TrainingError(
            f"The idempotency key is longer than {MAX_IDEMPOTENCY_KEY} characters.",
            field="idempotency_key",
        )
    fingerprint = (
        launch_fingerprint(
            kind=kind, inputs=inputs, config=config, name=name, shard_size=shard_size
        )
        if key
        else ""
    )
    if key:
        existing = _replay(team, key, kind, fingerprint)
        if existing is not None:
            return existing, True
    try:
        spec = get(kind)
    except UnknownKind as exc:
        raise TrainingError(str(exc), field="kind") from None
    if config is not None and not isinstance(config, dict):
        raise TrainingError("The config must be a mapping of options.", field="config")
    if shard_size is not None and (
        isinstance(shard_size, bool)
        or not isinstance(shard_size, int)
        or not 1 <= shard_size <= MAX_SHARD_SIZE
    ):
        raise TrainingError(
            f"The shard size must be from 1 to {MAX_SHARD_SIZE:,}.", field="shard_size"
        )
    roles = {rule.role for rule in spec.inputs}
    unknown = sorted(set(inputs) - roles)
    if unknown:
        raise TrainingError(
            f"{spec.label} takes no input {', '.join(unknown)} (it takes {', '.join(sorted(roles))}).",
            field=unknown[0],
        )
    checked = {rule.role: rule.check(team, inputs.get(rule.role)) for rule in spec.inputs}
    options = dict(config or {})
    extra = spec.check(team, checked, options, user) if spec.check else {}
    plan = spec.plan(checked, options, shard_size)
    fields = dict(
        team=team,
        kind=spec.name,
        name=(name or "").strip()[:200],
        created_by=_user(user),
        total_units=plan.total_units,
        examples_total=plan.examples_total,
        shard_size=plan.shard_size or max(1, plan.total_units),
        idempotency_key=key,
        idempotency_fingerprint=fingerprint,
        **{
            rule.run_field: checked[rule.role]
            for rule in spec.inputs
            if checked[rule.role] is not None
        },
        **extra,
    )
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin loses on the constraint
            run = Run.objects.create(**fields)
    except IntegrityError:
        existing = _replay(team, key, kind, fingerprint) if key else None
        if existing is None:
            raise
        return existing, True
    try:
        resolved = spec.build_config(options, run, checked)
    except ConfigError as exc:
        raise TrainingError(f"Invalid options: {exc}", field="config") from None
    run.config = resolved.to_dict()
    run.save(update_fields=["config"])
    if spec.after_create:
        spec.after_create(run, checked, resolved, user)
    shards = RunShard.objects.bulk_create(
        RunShard(run=run, index=i, start=start, end=end, total_units=units)
        for i, (start, end, units) in enumerate(plan.shards)
    )
    if not all(s.pk for s in shards):  # backends that do not return ids on bulk_create
        shards = list(run.shards.order_by("index"))
    if enqueue:
        enqueue_shards([s.pk for s in shards])
    return run, False


@transaction.atomic
def run_cancel(*, run: Run, user: Any = None) -> Run:
    """Ask a run to stop. Queued shards stop now; running ones stop after their batch.

    Everything already generated is kept; a cancelled run can be resumed.
    """
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

    Every kind skips what its shards already stored (examples, labels, the newest
    checkpoint), so a resumed run only does what is missing.
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
    enqueue_shards(shard_ids)
    run.refresh_from_db()
    return run
