"""The worker side of every run kind: one shard context, claimed, fenced, settled.

``shard_execute(shard_id)`` claims a queued shard (the attempt number it gets fences
every later write), builds a :class:`ShardContext` and hands it to the kind's
``execute(ctx)``. The context is all a kind uses to talk to the database: heartbeat
(raises :class:`ShardLost` once the reaper gave the shard to someone else), progress,
cancel checks, metrics, token and cost accounting, loaded models, and the finish.
Whichever shard stops last settles the run under a lock on the run row.

While it runs, a :class:`ShardLog` handler on the ``training`` and ``labelling``
loggers keeps what the shard's thread logged (claim, stage changes, batches saved,
retries, the failure with its error, the finish) on the shard row, the newest
``SHARD_LOG_LINES`` lines, written with the heartbeat and progress writes that happen
anyway: the run's log page reads them, no grep through worker logs.

Why no chord: a chord callback needs a result backend, never fires when a header
task is re-queued by the reaper or resumed by a person, and fires twice-or-never
under redelivery. Counting shard rows in the database has none of those failure modes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
import threading
import time
import traceback
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from .model_access import check_entry
from .models import SHARD_LOG_LINES, ModelEntry, Run, RunMetric, RunShard, RunStatus
from .selectors import stage_parts
from .worker_models import backends_for

logger = logging.getLogger(__name__)

# A shard keeps the newest SHARD_LOG_LINES lines its workers logged (models.py), each
# message at most SHARD_LOG_MESSAGE_CHARS (a traceback keeps its head and its tail): a
# row of bounded size, however long the shard runs or however often it is retried.
SHARD_LOG_MESSAGE_CHARS = 2000
# The loggers a shard's log listens to (their children too: training.kinds.labelling...).
SHARD_LOGGERS = ("training", "labelling")


def _clip(message: str) -> str:
    if len(message) <= SHARD_LOG_MESSAGE_CHARS:
        return message
    head = SHARD_LOG_MESSAGE_CHARS // 4
    tail = SHARD_LOG_MESSAGE_CHARS - head
    cut = len(message) - head - tail
    return f"{message[:head]}\n[… {cut:,} characters left out …]\n{message[-tail:]}"


def log_line(
    level: str,
    message: str,
    *,
    worker: str,
    attempt: int,
    pid: int | None = None,
    source: str = "",
    at: datetime | None = None,
) -> dict[str, Any]:
    """One stored line of a shard's log."""
    return {
        "at": (at or timezone.now()).astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "worker": worker,
        "pid": os.getpid() if pid is None else pid,
        "attempt": attempt,
        "logger": source,
        "message": _clip(message),
    }


def _appended(lines: Any, line: dict[str, Any]) -> list[dict[str, Any]]:
    """``lines`` (a shard's stored log) with ``line`` added, the newest kept."""
    return [*(lines if isinstance(lines, list) else []), line][-SHARD_LOG_LINES:]


class ShardLog(logging.Handler):
    """The log lines of one shard, kept while its worker runs it.

    Attached to the ``training`` and ``labelling`` loggers for the duration of the
    shard (made INFO-enabled meanwhile if the process logs less), it keeps the records
    of the shard's own threads (the one running it and its heartbeat), the newest
    ``SHARD_LOG_LINES`` after the lines earlier attempts left. Nothing is written here:
    :meth:`pending` hands the lines to the next fenced write of the shard row (beat,
    progress, finish, failure), so logging costs no query of its own.
    """

    def __init__(self, lines: Any, *, worker: str, attempt: int) -> None:
        super().__init__(logging.INFO)
        self.worker, self.attempt = worker, attempt
        self.lines: deque[dict[str, Any]] = deque(
            lines if isinstance(lines, list) else [], maxlen=SHARD_LOG_LINES
        )
        self.threads = {threading.get_ident()}
        self._dirty = False
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread not in self.threads:
            return  # another thread of the process: not this shard's work
        try:
            line = log_line(
                record.levelname,
                self.format(record),
                worker=self.worker,
                attempt=self.attempt,
                pid=record.process,
                source=record.name,
                at=datetime.fromtimestamp(record.created, tz=UTC),
            )
        except Exception:  # noqa: BLE001 - a bad log call must not fail the shard
            self.handleError(record)
            return
        self.lines.append(line)  # emit runs under the handler's lock
        self._dirty = True

    def pending(self) -> dict[str, Any]:
        """``{"log_lines": [...]}`` if lines came since the last call, else ``{}``: the
        field to add to the shard write about to happen."""
        self.acquire()
        try:
            if not self._dirty:
                return {}
            self._dirty = False
            return {"log_lines": list(self.lines)}
        finally:
            self.release()

    def everything(self) -> dict[str, Any]:
        """The lines as a field, whether or not they were written before (last writes)."""
        self.acquire()
        try:
            self._dirty = False
            return {"log_lines": list(self.lines)}
        finally:
            self.release()

    def attach(self) -> None:
        for name in SHARD_LOGGERS:
            target = logging.getLogger(name)
            if not target.isEnabledFor(logging.INFO):
                self._levels[name] = target.level
                target.setLevel(logging.INFO)
            target.addHandler(self)

    def detach(self) -> None:
        for name in SHARD_LOGGERS:
            target = logging.getLogger(name)
            target.removeHandler(self)
            if name in self._levels:
                target.setLevel(self._levels.pop(name))


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


def owned(shard_id: int, attempt: int) -> QuerySet[RunShard]:
    """The shard row, only while this attempt still owns it (the fence)."""
    return RunShard.objects.filter(pk=shard_id, attempts=attempt, status=RunStatus.RUNNING)


def run_refresh_progress(run_id: int, *, stage: str = "", round: int | None = None) -> None:
    """Sum the shards' progress into the run row (one read, one write)."""
    totals = RunShard.objects.filter(run_id=run_id).aggregate(
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


def _device() -> tuple[str, int]:
    try:
        import torch
    except ImportError:  # a worker venv without torch (an HTTP-only backend)
        return "cpu", 0
    if torch.cuda.is_available():
        return "cuda", torch.cuda.device_count()
    return "cpu", 0


class Heartbeat(threading.Thread):
    """Beats for a claimed shard every ``interval`` seconds while its work runs.

    A batch can run for minutes (a long generation, a checkpoint save) without the
    main loop reaching its next ``beat()``; without this a reaper would re-queue a
    live shard. The beat is fenced like every other write: once the row carries
    another attempt (the shard was taken over) the thread stops and ``lost`` makes
    the main loop's next beat raise :class:`ShardLost`. A row this thread cannot see
    (an uncommitted claim, as inside a test's transaction) is left alone.
    """

    def __init__(self, shard_id: int, run_id: int, attempt: int, interval: float) -> None:
        super().__init__(name=f"heartbeat-shard-{shard_id}", daemon=True)
        self.shard_id, self.run_id, self.attempt, self.interval = (
            shard_id,
            run_id,
            attempt,
            interval,
        )
        self.lost = False
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.wait(self.interval):
                try:
                    row = (
                        RunShard.objects.filter(pk=self.shard_id)
                        .values_list("attempts", "status")
                        .first()
                    )
                    if row is None:
                        continue
                    if row != (self.attempt, RunStatus.RUNNING):
                        self.lost = True
                        return
                    now = timezone.now()
                    if owned(self.shard_id, self.attempt).update(heartbeat_at=now):
                        Run.objects.filter(pk=self.run_id).update(heartbeat_at=now)
                except Exception:  # noqa: BLE001 - a missed beat is retried next interval
                    logger.exception("heartbeat of shard %s failed", self.shard_id)
        finally:
            connection.close()  # this thread's own database connection

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=self.interval + 5)


class ShardContext:
    """What a kind's ``execute`` gets: one claimed shard and the ways to report on it.

    Cost is wall seconds x GPUs on CUDA and process CPU-seconds on a CPU worker (the
    run page names which). Every write goes through the fence: a worker that lost the
    shard gets :class:`ShardLost` and writes nothing more.
    """

    def __init__(self, shard: RunShard, attempt: int, log: ShardLog | None = None) -> None:
        self.shard = shard
        self.run: Run = shard.run
        self.attempt = attempt
        # The lines go out with this context's writes; shard_execute attaches the handler.
        self.log = (
            log
            if log is not None
            else ShardLog(shard.log_lines, worker=shard.worker, attempt=attempt)
        )
        self._said: tuple[str, int | None] | None = None  # the stage last logged
        self._done_said = shard.done_units
        self._total = shard.total_units  # a kind may learn its total as it goes (mining)
        self.start, self.end = shard.start, shard.end
        self._gpu_base = shard.gpu_seconds
        self._tokens_base = (shard.prompt_tokens, shard.completion_tokens)
        self._wall0 = time.monotonic()
        self._cpu0 = time.process_time()
        self.device, self.device_count = _device()
        Run.objects.filter(pk=self.run.pk).update(
            device=self.device, device_count=self.device_count
        )
        interval = float(getattr(settings, "RUN_HEARTBEAT_SECONDS", 15))
        self.heartbeat = (
            Heartbeat(shard.pk, shard.run_id, attempt, interval) if interval > 0 else None
        )

    @property
    def indices(self) -> list[int]:
        return list(range(self.start, self.end))

    def cost_seconds(self) -> float:
        if self.device == "cuda":
            return self._gpu_base + (time.monotonic() - self._wall0) * max(1, self.device_count)
        return self._gpu_base + (time.process_time() - self._cpu0)

    def beat(self, **fields: Any) -> None:
        """Heartbeat (and any shard fields); ShardLost if the shard is no longer ours."""
        if self.heartbeat is not None and self.heartbeat.lost:
            raise ShardLost
        self._total = fields.get("total_units", self._total)
        if not owned(self.shard.pk, self.attempt).update(
            heartbeat_at=timezone.now(),
            gpu_seconds=self.cost_seconds(),
            **fields,
            **self.log.pending(),
        ):
            raise ShardLost

    def progress(
        self, done: int, *, stage: str = "", round: int | None = None, **fields: Any
    ) -> None:
        """Write the shard's progress and sum every shard's into the run row."""
        if round is not None:
            fields["round"] = round
        self._total = fields.get("total_units", self._total)
        self._narrate(done, stage, round)
        self.beat(done_units=done, stage=stage, **fields)
        run_refresh_progress(self.run.pk, stage=stage, round=round)

    def _narrate(self, done: int, stage: str, round: int | None) -> None:
        """Log a stage change ("stage critique, round 2") and each batch saved, once each:
        the lines go out with the progress write that follows."""
        name = stage_parts(stage)[0] if stage else ""
        if name and (name, round) != self._said:
            self._said = (name, round)
            logger.info("stage %s%s", name, f", round {round}" if round else "")
        if done > self._done_said:
            self._done_said = done
            unit = self.run.spec.progress_unit
            logger.info("batch saved: %s / %s %s done", f"{done:,}", f"{self._total:,}", unit)

    def should_stop(self) -> bool:
        """Heartbeat, then True once someone asked the run to cancel."""
        self.beat()
        return Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists()

    def tokens(self, prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
        """Shard fields for what this attempt has spent so far, on top of what earlier
        attempts recorded (a killed attempt's tokens stay counted)."""
        base_prompt, base_completion = self._tokens_base
        return {
            "prompt_tokens": base_prompt + prompt_tokens,
            "completion_tokens": base_completion + completion_tokens,
        }

    def add_tokens(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Record this attempt's tokens (see :meth:`tokens`)."""
        self.beat(**self.tokens(prompt_tokens, completion_tokens))

    def log_metrics(self, step: int, metrics: dict[str, float], *, progress: bool = True) -> None:
        """One RunMetric row per (step, name), upserted (a resumed run logs again)."""
        rows = [
            RunMetric(run_id=self.run.pk, step=step, name=name[:80], value=float(value))
            for name, value in metrics.items()
            if isinstance(value, int | float) and math.isfinite(value)
        ]
        if rows:
            RunMetric.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["run", "step", "name"],
                update_fields=["value"],
            )
        if progress:
            self.progress(min(step, self.run.total_units), stage="training")

    def backends(self, *entries: ModelEntry) -> list[Any]:
        """Loaded backends for ``entries``, kept resident by the worker's one policy.

        Each entry is checked again before it loads (``model_access.check_entry``): a
        row that points where its team may not go fails the shard with the reason.
        """
        specs = []
        for entry in entries:
            spec = entry.to_spec()
            pinned = check_entry(entry)  # what the check accepted is what is used
            if pinned:
                spec = dataclasses.replace(spec, options={**spec.options, **pinned})
            specs.append(spec)
        out = backends_for(*specs)
        self.beat()
        return out

    def update_run(self, **fields: Any) -> None:
        """Write run-level figures (examples_total, partial results) during the work."""
        Run.objects.filter(pk=self.run.pk).update(**fields)

    def merge_result(self, result: dict[str, Any]) -> None:
        current = Run.objects.filter(pk=self.run.pk).values_list("result", flat=True)[0] or {}
        Run.objects.filter(pk=self.run.pk).update(result={**current, **result})

    def stored_result(self) -> dict[str, Any]:
        return Run.objects.filter(pk=self.run.pk).values_list("result", flat=True)[0] or {}

    def finish(self, completed: bool, result: dict[str, Any]) -> str:
        """Mark the shard succeeded (or cancelled) and merge ``result`` into the run's."""
        now = timezone.now()
        final = RunStatus.SUCCEEDED if completed else RunStatus.CANCELLED
        logger.info(
            "shard %s %s after %.1f s on %s (%s %s)",
            self.shard.index,
            "finished" if completed else "stopped: the run was cancelled",
            time.monotonic() - self._wall0,
            self.log.worker,
            f"{self._total if completed else self._done_said:,} / {self._total:,}",
            self.run.spec.progress_unit,
        )
        with transaction.atomic():
            updates: dict[str, Any] = {
                "status": final,
                "finished_at": now,
                "heartbeat_at": now,
                "tokens_per_s": 0.0,
                "units_per_s": 0.0,
                "gpu_seconds": self.cost_seconds(),
                **self.log.everything(),
            }
            if completed:
                updates["done_units"] = self.shard.total_units
            if not owned(self.shard.pk, self.attempt).update(**updates):
                raise ShardLost
            if result:
                self.merge_result(result)
        return final


def shard_execute(shard_id: int, *, worker: str = "local") -> str:
    """Claim and run one shard of any kind; return the shard's final status.

    ``skipped`` when another worker holds it, ``lost`` when the reaper took it away
    mid-way. Errors that retrying cannot fix mark the shard failed with the message;
    transient ones (database or broker blips) put it back and re-raise for a retry.
    """
    attempt = shard_claim(shard_id, worker)
    if attempt is None:
        return "skipped"
    shard = RunShard.objects.select_related("run", "run__model", "run__prompt_set").get(pk=shard_id)
    log = ShardLog(shard.log_lines, worker=worker, attempt=attempt)
    log.attach()
    ctx: ShardContext | None = None
    try:
        logger.info(
            "shard %s of run %s (%s, examples %s–%s) claimed by %s, pid %s, attempt %s%s",
            shard.index,
            shard.run_id,
            shard.run.spec.label,
            shard.start,
            shard.end - 1,
            worker,
            os.getpid(),
            attempt,
            f", after its worker went silent {shard.lost} time{'s' if shard.lost > 1 else ''}"
            if shard.lost
            else "",
        )
        ctx = ShardContext(shard, attempt, log)
        ctx.beat()
        if ctx.heartbeat is not None:
            ctx.heartbeat.start()
            log.threads.add(ctx.heartbeat.ident or 0)
        completed, result = shard.run.spec.execute(ctx)
        status = ctx.finish(completed, result)
    except ShardLost:
        logger.warning(
            "shard %s of run %s was taken over by another worker; stopping",
            shard.index,
            shard.run_id,
        )
        return "lost"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the shard
        message = f"{type(exc).__name__}: {exc}"
        if is_transient(exc):
            logger.warning(
                "shard %s of run %s: %s; back in the queue for a retry",
                shard.index,
                shard.run_id,
                message,
            )
            owned(shard_id, attempt).update(status=RunStatus.QUEUED, worker="", **log.everything())
            raise
        logger.error(
            "shard %s of run %s failed: %s\n%s",
            shard.index,
            shard.run_id,
            message,
            traceback.format_exc(),
        )
        if owned(shard_id, attempt).update(
            status=RunStatus.FAILED,
            error=message[:5000],
            finished_at=timezone.now(),
            **log.everything(),
        ):
            Run.objects.filter(pk=shard.run_id).update(
                error=f"shard {shard.index}: {message}"[:20_000]
            )
            run_settle(shard.run_id)
        return RunStatus.FAILED
    finally:
        if ctx is not None and ctx.heartbeat is not None:
            ctx.heartbeat.stop()
        log.detach()
    run_settle(shard.run_id)
    return status


def shard_give_up(shard_id: int, message: str) -> None:
    """Fail a shard that was put back in the queue for a retry that will not come."""
    shard = RunShard.objects.filter(pk=shard_id).only("run_id", "attempts", "log_lines").first()
    if shard is None:
        return
    line = log_line(
        "ERROR",
        f"retries used up; failed: {message}",
        worker=_host("retries"),
        attempt=shard.attempts,
    )
    if RunShard.objects.filter(pk=shard_id, status=RunStatus.QUEUED).update(
        status=RunStatus.FAILED,
        error=message[:5000],
        finished_at=timezone.now(),
        log_lines=_appended(shard.log_lines, line),
    ):
        run_settle(shard.run_id)


def _host(role: str) -> str:
    """Who writes a line that no shard's worker wrote: "host (reaper)"."""
    return f"{socket.gethostname()} ({role})"


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry: the database or broker blinked, not the work itself."""
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError | ConnectionError)


# A shard whose worker died this many times is failed instead of re-queued again:
# something in it (a prompt, the model) kills workers, and a person should look.
MAX_SHARD_ATTEMPTS = 5


def shards_requeue_stale(*, stale_seconds: int | None = None, now: Any = None) -> list[int]:
    """Put back in the queue the shards whose worker stopped sending heartbeats; return
    their ids (the reaper task sends each a fresh task).

    A worker killed mid-shard (OOM, preemption, kill -9) leaves its shard ``running``
    with an old heartbeat. The shard goes back to ``queued`` (the caller queues its task); its
    stored examples are kept and skipped. After ``MAX_SHARD_ATTEMPTS`` the shard fails
    instead, so a poison shard cannot loop forever.
    """
    stale_seconds = settings.RUN_HEARTBEAT_STALE_SECONDS if stale_seconds is None else stale_seconds
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=stale_seconds)
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    requeued: list[int] = []
    for shard in RunShard.objects.filter(stale, status=RunStatus.RUNNING).only(
        "pk", "run_id", "attempts", "lost", "worker", "heartbeat_at", "log_lines"
    ):
        silent = (
            f"no heartbeat from {shard.worker or 'its worker'} since "
            f"{shard.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (over {stale_seconds} s)"
            if shard.heartbeat_at
            else f"no heartbeat from {shard.worker or 'its worker'}"
        )
        with transaction.atomic():
            # The attempt number fences the shard: if the worker came back and wrote a
            # heartbeat (or another reaper got here first) nothing matches. Its log is
            # only ever written with a fresh heartbeat, so the lines read above are current.
            fenced = RunShard.objects.filter(
                stale, pk=shard.pk, status=RunStatus.RUNNING, attempts=shard.attempts
            )
            if shard.lost + 1 >= MAX_SHARD_ATTEMPTS:
                error = f"its worker stopped answering {shard.lost + 1} times; giving up"
                line = log_line(
                    "ERROR", f"{silent}: {error}", worker=_host("reaper"), attempt=shard.attempts
                )
                if fenced.update(
                    status=RunStatus.FAILED,
                    finished_at=now,
                    lost=F("lost") + 1,
                    error=error,
                    log_lines=_appended(shard.log_lines, line),
                ):
                    run_settle(shard.run_id)
                continue
            line = log_line(
                "WARNING",
                f"{silent}: taken away and queued for another worker",
                worker=_host("reaper"),
                attempt=shard.attempts,
            )
            if not fenced.update(
                status=RunStatus.QUEUED,
                worker="",
                error="",
                lost=F("lost") + 1,
                log_lines=_appended(shard.log_lines, line),
            ):
                continue
            if Run.objects.filter(pk=shard.run_id, cancel_requested=True).exists():
                RunShard.objects.filter(pk=shard.pk).update(
                    status=RunStatus.CANCELLED, finished_at=now
                )
                run_settle(shard.run_id)
                continue
            requeued.append(shard.pk)
    return requeued


__all__ = [
    "SHARD_LOG_LINES",
    "ShardContext",
    "ShardLog",
    "ShardLost",
    "is_transient",
    "owned",
    "run_refresh_progress",
    "run_settle",
    "shard_claim",
    "shard_execute",
    "shard_give_up",
    "shards_requeue_stale",
]
