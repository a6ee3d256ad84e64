"""What a worker does with a shard: claim it, load the model once, run the engine
against a database-backed result store, write a heartbeat and progress every batch,
and settle the run when the last shard stops.

Why no chord: the run is finished by whichever shard settles last, inside a
transaction that locks the run row (``run_settle``). A chord callback needs a result
backend, never fires when a header task is re-queued by the reaper or resumed by a
person (those are new tasks outside the chord), and fires twice-or-never under
redelivery. Counting shard rows in the database has none of those failure modes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import traceback
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from .models import Example, ExampleRound, Finish, Run, RunShard, RunStatus
from .services import run_prompt_queryset

logger = logging.getLogger(__name__)

# One loaded backend per worker process: a model load costs seconds on CPU and
# minutes on a GPU, and a GPU holds one model at a time.
_BACKENDS: dict[str, Any] = {}
BACKEND_LOADS = {"count": 0}


def backend_for(spec: Any) -> Any:
    """The backend for ``spec``, loaded once per process and reused while the spec matches."""
    key = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    backend = _BACKENDS.get(key)
    if backend is not None:
        return backend
    backend_cache_clear()
    from training.engine.backends import load_backend

    backend = load_backend(spec)
    BACKEND_LOADS["count"] += 1
    _BACKENDS[key] = backend
    return backend


def backend_cache_clear() -> None:
    for backend in _BACKENDS.values():
        try:
            backend.close()
        except Exception:  # noqa: BLE001 - freeing memory must not fail a run
            logger.exception("closing a cached backend failed")
    _BACKENDS.clear()


# --- the result store -------------------------------------------------------------------


class DbResultStore:
    """The engine's ResultStore over Example/ExampleRound rows of one run's shard.

    Every ``save_batch`` is one transaction of idempotent upserts keyed by
    (run, index) and (example, round), so a batch saved twice (a redelivered task, a
    resumed run) leaves exactly one row per example and round. It follows the rules
    of ``critique_revision.apply_output``: a changed answer or critique drops what
    was built on it.
    """

    def __init__(self, run: Run, start: int, end: int, prompt_ids: Sequence[int]) -> None:
        self.run = run
        self.start = start
        self.end = end
        self.prompt_ids = prompt_ids

    def _examples(self):
        return Example.objects.filter(run=self.run, index__gte=self.start, index__lt=self.end)

    def load(self) -> dict[int, Any]:
        from training.engine.critique_revision import ExampleState, RoundResult

        states: dict[int, ExampleState] = {}
        for row in self._examples().values(
            "id", "index", "prompt__text", "initial_answer", "initial_tokens", "initial_finish"
        ):
            states[row["index"]] = ExampleState(
                index=row["index"],
                prompt=row["prompt__text"],
                initial_answer=row["initial_answer"],
                initial_tokens=row["initial_tokens"],
                initial_finish=row["initial_finish"],
            )
        rounds = ExampleRound.objects.filter(
            example__run=self.run, example__index__gte=self.start, example__index__lt=self.end
        ).order_by("example__index", "round")
        for r in rounds.values(
            "example__index",
            "round",
            "principle_id",
            "principle_key",
            "critique",
            "critique_tokens",
            "critique_finish",
            "revision",
            "revision_tokens",
            "revision_finish",
        ):
            state = states[r["example__index"]]
            if r["round"] != len(state.rounds) + 1:
                continue  # a gap cannot happen through save_batch; ignore what follows one
            state.rounds.append(
                RoundResult(
                    round=r["round"],
                    principle_key=r["principle_key"],
                    principle_id=r["principle_id"],
                    critique=r["critique"],
                    revision=r["revision"],
                    critique_tokens=r["critique_tokens"],
                    revision_tokens=r["revision_tokens"],
                    critique_finish=r["critique_finish"],
                    revision_finish=r["revision_finish"],
                )
            )
        return states

    @transaction.atomic
    def save_batch(self, stage: str, round: int, results: list[Any]) -> None:
        from training.engine.critique_revision import CritiqueRevisionError

        if not results:
            return
        indices = [o.index for o in results]
        if any(not self.start <= i < self.end for i in indices):
            raise CritiqueRevisionError(f"indices {indices} fall outside this shard")
        if stage == "answer":
            stored = dict(
                self._examples().filter(index__in=indices).values_list("index", "initial_answer")
            )
            changed = [o.index for o in results if o.index in stored and stored[o.index] != o.text]
            if changed:
                ExampleRound.objects.filter(
                    example__run=self.run, example__index__in=changed
                ).delete()
            Example.objects.bulk_create(
                [
                    Example(
                        run=self.run,
                        index=o.index,
                        prompt_id=self.prompt_ids[o.index],
                        initial_answer=o.text,
                        initial_tokens=o.tokens,
                        initial_finish=o.finish_reason,
                    )
                    for o in results
                ],
                update_conflicts=True,
                unique_fields=["run", "index"],
                update_fields=["prompt", "initial_answer", "initial_tokens", "initial_finish"],
            )
            return
        example_ids = dict(self._examples().filter(index__in=indices).values_list("index", "id"))
        missing = [i for i in indices if i not in example_ids]
        if missing:
            raise CritiqueRevisionError(f"examples {missing} got a {stage} before their answer")
        if stage == "critique":
            stored = {
                ex: (key, critique)
                for ex, key, critique in ExampleRound.objects.filter(
                    example_id__in=example_ids.values(), round=round
                ).values_list("example_id", "principle_key", "critique")
            }
            changed = [
                example_ids[o.index]
                for o in results
                if example_ids[o.index] in stored
                and stored[example_ids[o.index]] != (o.principle_key, o.text)
            ]
            if changed:
                ExampleRound.objects.filter(example_id__in=changed, round__gte=round).delete()
            for o in results:
                if o.principle_id is None:
                    raise CritiqueRevisionError(
                        f"example {o.index}: the principle has no database id"
                    )
            ExampleRound.objects.bulk_create(
                [
                    ExampleRound(
                        example_id=example_ids[o.index],
                        round=round,
                        principle_id=o.principle_id,
                        principle_key=o.principle_key,
                        critique=o.text,
                        critique_tokens=o.tokens,
                        critique_finish=o.finish_reason,
                    )
                    for o in results
                ],
                update_conflicts=True,
                unique_fields=["example", "round"],
                update_fields=[
                    "principle",
                    "principle_key",
                    "critique",
                    "critique_tokens",
                    "critique_finish",
                ],
            )
            return
        rows = {
            r.example_id: r
            for r in ExampleRound.objects.filter(example_id__in=example_ids.values(), round=round)
        }
        missing = [o.index for o in results if example_ids[o.index] not in rows]
        if missing:
            raise CritiqueRevisionError(
                f"examples {missing}: revision of round {round} before its critique"
            )
        changed = []
        for o in results:
            row = rows[example_ids[o.index]]
            if row.revision is not None and row.revision != o.text:
                changed.append(row.example_id)
            row.revision, row.revision_tokens, row.revision_finish = (
                o.text,
                o.tokens,
                o.finish_reason,
            )
        if changed:
            ExampleRound.objects.filter(example_id__in=changed, round__gt=round).delete()
        ExampleRound.objects.bulk_update(
            list(rows.values()), ["revision", "revision_tokens", "revision_finish"]
        )


# --- claiming, progress, settling -------------------------------------------------------


class ShardLost(Exception):
    """The shard was taken from this worker (reaped and re-claimed); stop without writing."""


def shard_claim(shard_id: int, worker: str) -> int | None:
    """Take a queued shard; return the attempt number that fences our writes, or None."""
    now = timezone.now()
    with transaction.atomic():
        shard = RunShard.objects.select_for_update().filter(pk=shard_id).first()
        if shard is None or shard.status != RunStatus.QUEUED:
            return None
        run = Run.objects.select_for_update().get(pk=shard.run_id)
        if run.cancel_requested or run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            return None
        claimed = RunShard.objects.filter(pk=shard_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING,
            attempts=shard.attempts + 1,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            error="",
        )
        if not claimed:
            return None
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING,
            started_at=run.started_at or now,
            heartbeat_at=now,
            worker=worker,
            attempts=run.attempts + 1,
        )
        return shard.attempts + 1


def _mine(shard_id: int, attempt: int):
    return RunShard.objects.filter(pk=shard_id, attempts=attempt, status=RunStatus.RUNNING)


def run_refresh_progress(run_id: int, *, stage: str = "", round: int | None = None) -> None:
    """Sum the shards' progress into the run row (one read, one write)."""
    shards = RunShard.objects.filter(run_id=run_id)
    totals = shards.aggregate(
        done=Sum("done_units"),
        examples=Sum("examples_done"),
        prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"),
        gpu=Sum("gpu_seconds"),
        tps=Sum("tokens_per_s", filter=Q(status=RunStatus.RUNNING)),
        ups=Sum("units_per_s", filter=Q(status=RunStatus.RUNNING)),
    )
    run = Run.objects.only("total_units").get(pk=run_id)
    done = totals["done"] or 0
    ups = totals["ups"] or 0.0
    updates: dict[str, Any] = {
        "done_units": done,
        "examples_done": totals["examples"] or 0,
        "prompt_tokens": totals["prompt_tokens"] or 0,
        "completion_tokens": totals["completion_tokens"] or 0,
        "gpu_seconds": totals["gpu"] or 0.0,
        "tokens_per_s": totals["tps"] or 0.0,
        "eta_seconds": (run.total_units - done) / ups if ups > 0 else None,
        "heartbeat_at": timezone.now(),
    }
    if stage:
        updates["stage"] = stage
    if round is not None:
        updates["round"] = round
    Run.objects.filter(pk=run_id).update(**updates)


def run_settle(run_id: int) -> str:
    """Give the run its final status once no shard is queued or running; return the status.

    Called by every shard as it stops, under a lock on the run row, so exactly one
    caller sees the last shard stop, whichever worker it ran on.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        statuses = list(RunShard.objects.filter(run_id=run_id).values_list("status", flat=True))
        if any(s in (RunStatus.QUEUED, RunStatus.RUNNING) for s in statuses):
            return run.status
        if statuses and all(s == RunStatus.SUCCEEDED for s in statuses):
            final = RunStatus.SUCCEEDED
        elif RunStatus.FAILED in statuses:
            final = RunStatus.FAILED
        else:
            final = RunStatus.CANCELLED
        errors = [
            f"shard {index}: {error}"
            for index, error in RunShard.objects.filter(run_id=run_id, status=RunStatus.FAILED)
            .exclude(error="")
            .values_list("index", "error")
        ]
        run_refresh_progress(run_id)
        Run.objects.filter(pk=run_id).update(
            status=final,
            finished_at=timezone.now(),
            eta_seconds=None,
            tokens_per_s=0.0,
            error="\n\n".join(errors)[:20_000] if final == RunStatus.FAILED else "",
        )
        return final


# --- the shard job ----------------------------------------------------------------------


def shard_execute(shard_id: int, *, worker: str = "local") -> str:
    """Claim and run one shard of a critique-revision run; return the shard's final status.

    Steps: claim the row (another worker may hold it: then return ``skipped``); load
    the run's prompts, constitution snapshot and model (cached per process); run the
    engine, which saves every batch through :class:`DbResultStore`, writing progress
    and a heartbeat after each batch and checking for cancel or loss of the shard
    before the next one; then settle the run. Errors that retrying cannot fix mark
    the shard failed with the message; the caller decides about transient ones.
    """
    attempt = shard_claim(shard_id, worker)
    if attempt is None:
        return "skipped"
    shard = RunShard.objects.select_related("run", "run__model", "run__prompt_set").get(pk=shard_id)
    try:
        status = _execute(shard, attempt)
    except ShardLost:
        logger.warning("shard %s was taken over by another worker; stopping", shard_id)
        return "lost"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the shard
        if is_transient(exc):
            _mine(shard_id, attempt).update(status=RunStatus.QUEUED, worker="")
            raise
        message = f"{type(exc).__name__}: {exc}"
        logger.error("shard %s failed: %s\n%s", shard_id, message, traceback.format_exc())
        if _mine(shard_id, attempt).update(
            status=RunStatus.FAILED, error=message[:5000], finished_at=timezone.now()
        ):
            Run.objects.filter(pk=shard.run_id).update(
                error=f"shard {shard.index}: {message}"[:20_000]
            )
            run_settle(shard.run_id)
        return RunStatus.FAILED
    run_settle(shard.run_id)
    return status


def shard_give_up(shard_id: int, message: str) -> None:
    """Fail a shard that was put back in the queue for a retry that will not come."""
    shard = RunShard.objects.filter(pk=shard_id).only("run_id").first()
    if shard and RunShard.objects.filter(pk=shard_id, status=RunStatus.QUEUED).update(
        status=RunStatus.FAILED, error=message[:5000], finished_at=timezone.now()
    ):
        run_settle(shard.run_id)


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry: the database or broker blinked, not the work itself."""
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError | ConnectionError)


def _execute(shard: RunShard, attempt: int) -> str:
    from constitutions.selectors import version_content, version_with_content
    from training.engine.critique_revision import run_critique_revision

    run = shard.run
    if run.kind != "critique_revision":
        # RL-CAI stages (SFT, labelling, DPO, reward, evaluation): one shard each.
        from training.rlcai_exec import execute

        return execute(shard, attempt)
    config = run.config_object()
    rows = list(run_prompt_queryset(run.prompt_set, run.prompt_selection).values_list("id", "text"))
    prompt_ids = [pk for pk, _ in rows]
    prompts = [text for _, text in rows]
    if len(prompts) != run.examples_total:
        raise ValueError(
            f"the run was started over {run.examples_total} prompts but the set now has {len(prompts)}"
        )
    content = version_content(version_with_content(run.constitution_version_id))
    store = DbResultStore(run, shard.start, shard.end, prompt_ids)
    gpu_base = shard.gpu_seconds
    started = time.monotonic()

    def beat() -> None:
        if not _mine(shard.pk, attempt).update(heartbeat_at=timezone.now()):
            raise ShardLost

    beat()
    backend = backend_for(run.model.to_spec())
    beat()

    def on_progress(p: Any) -> None:
        remaining = p.total_units - p.done_units
        units_per_s = remaining / p.eta_seconds if p.eta_seconds else 0.0
        updated = _mine(shard.pk, attempt).update(
            heartbeat_at=timezone.now(),
            done_units=p.done_units,
            total_units=p.total_units,
            examples_done=p.examples_done,
            stage=p.stage,
            round=p.round,
            tokens_per_s=p.tokens_per_s,
            units_per_s=units_per_s,
            gpu_seconds=gpu_base + (time.monotonic() - started),
        )
        if not updated:
            raise ShardLost
        run_refresh_progress(run.pk, stage=p.stage, round=p.round)

    def should_stop() -> bool:
        beat()
        return Run.objects.filter(pk=run.pk, cancel_requested=True).exists()

    report = run_critique_revision(
        prompts=prompts,
        content=content,
        backend=backend,
        config=config,
        store=store,
        indices=shard.indices,
        progress=on_progress,
        should_stop=should_stop,
    )
    now = timezone.now()
    final = RunStatus.SUCCEEDED if report.completed else RunStatus.CANCELLED
    if not _mine(shard.pk, attempt).update(
        status=final,
        finished_at=now,
        heartbeat_at=now,
        tokens_per_s=0.0,
        units_per_s=0.0,
        prompt_tokens=shard.prompt_tokens + report.prompt_tokens,
        completion_tokens=shard.completion_tokens + report.completion_tokens,
        gpu_seconds=gpu_base + (time.monotonic() - started),
    ):
        raise ShardLost
    return final


__all__ = [
    "DbResultStore",
    "Finish",
    "backend_cache_clear",
    "backend_for",
    "run_refresh_progress",
    "run_settle",
    "shard_claim",
    "shard_execute",
]
