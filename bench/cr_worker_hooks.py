"""Loaded into the bench workers of ``bench_cr_10k.py`` (``celery worker -I
bench.cr_worker_hooks``): counts the database queries each shard makes and the batches
it saves, and records the worker's memory after each shard, one JSON line per shard in
``$CR_BENCH_LOG``. Not part of the product."""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from celery.signals import task_postrun, task_prerun

state: dict[str, Any] = {}


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _counter(execute, sql, params, many, context):
    state["queries"] += 1
    return execute(sql, params, many, context)


@task_prerun.connect
def _start(task_id=None, task=None, args=None, **_: Any) -> None:
    if task is None or task.name != "training.run_shard":
        return
    from django.db import connection

    from training.kinds import critique_revision

    if not state.get("patched"):
        save = critique_revision.DbResultStore.save_batch

        def counted(self, stage, round, results):
            state["batches"] += 1
            state["marks"].append(state["queries"])
            return save(self, stage, round, results)

        critique_revision.DbResultStore.save_batch = counted  # type: ignore[method-assign]
        state["patched"] = True
    state.update(queries=0, batches=0, marks=[], started=time.monotonic())
    connection.execute_wrappers.append(_counter)


@task_postrun.connect
def _end(task_id=None, task=None, args=None, **_: Any) -> None:
    if task is None or task.name != "training.run_shard":
        return
    from django.db import connection

    if _counter in connection.execute_wrappers:
        connection.execute_wrappers.remove(_counter)
    marks = state["marks"]
    gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    record = {
        "shard": args[0] if args else None,
        "queries": state["queries"],
        "batches": state["batches"],
        "before_first_batch": marks[0] if marks else state["queries"],
        "between_batches": sorted(set(gaps)),
        "seconds": round(time.monotonic() - state["started"], 2),
        "rss_kib": _rss_kib(),
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    with open(os.environ["CR_BENCH_LOG"], "a") as out:
        out.write(json.dumps(record) + "\n")
