"""Celery tasks of the training app: thin wrappers that take primary keys.

``training.run_shard`` runs on the ``gpu`` queue (one per GPU worker process,
``--concurrency=1 --prefetch-multiplier=1``); the reaper runs on ``default`` from beat.
"""

from __future__ import annotations

import logging

from cai_web.celery import app

logger = logging.getLogger(__name__)

MAX_TRANSIENT_RETRIES = 5


@app.task(
    name="training.run_shard",
    queue="gpu",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_TRANSIENT_RETRIES,
)
def run_shard(self, shard_id: int) -> str:
    """Run one shard of a run. Only database/connection blips are retried (with backoff);
    a bad model, prompt or config fails the shard at once, with its error on the run page.
    A worker killed outright is recovered by the reaper, not by Celery."""
    from training import shards

    try:
        return shards.shard_execute(shard_id, worker=self.request.hostname or "worker")
    except Exception as exc:
        if shards.is_transient(exc) and self.request.retries < self.max_retries:
            logger.warning("shard %s hit a transient error, retrying: %s", shard_id, exc)
            raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from exc
        shards.shard_give_up(shard_id, f"{type(exc).__name__}: {exc}")
        raise


@app.task(name="training.reap_stale_runs", queue="default", acks_late=True, max_retries=0)
def reap_stale_runs(stale_seconds: int | None = None) -> list[int]:
    """Re-queue shards whose worker stopped sending heartbeats (beat runs this every minute);
    each gets a fresh task once the re-queue is committed."""
    from training.shards import shards_requeue_stale

    requeued = shards_requeue_stale(stale_seconds=stale_seconds)
    for shard_id in requeued:
        run_shard.delay_on_commit(shard_id)
    if requeued:
        logger.warning("re-queued stale shards %s", requeued)
    return requeued
