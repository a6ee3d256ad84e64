"""What a GPU worker does with the one shard of an RL-CAI stage run.

``execute(shard, attempt)`` is called by :func:`training.execution.shard_execute`
after the shard was claimed, so claiming, failure handling and ``run_settle`` are
shared with critique-revision runs. Here each kind does its work with:

* a heartbeat that also fences the shard (``ShardLost`` when the reaper gave it
  to another worker), written at every trainer step through ``should_stop``;
* metrics written to :class:`~training.models.RunMetric` from the trainers'
  ``MetricsCallback`` sink, every logging step;
* resume: trainers restart from the newest ``checkpoint-N`` under the run folder;
  a labelling run skips the prompts whose labels are already stored;
* cost: wall seconds x GPUs on CUDA, process CPU-seconds otherwise.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from .execution import ShardLost, _mine, backend_for, run_refresh_progress
from .models import Run, RunKind, RunMetric, RunShard, RunStatus
from .rlcai import trained_model_register
from .services import run_prompt_queryset

logger = logging.getLogger(__name__)


class Stage:
    """Heartbeat, cancel, progress, metrics and cost accounting of one claimed shard."""

    def __init__(self, shard: RunShard, attempt: int) -> None:
        self.shard = shard
        self.run: Run = shard.run
        self.attempt = attempt
        self.gpu_base = shard.gpu_seconds
        self.wall0 = time.monotonic()
        self.cpu0 = time.process_time()
        self.device, self.device_count = _device()
        Run.objects.filter(pk=self.run.pk).update(
            device=self.device, device_count=self.device_count
        )

    def cost_seconds(self) -> float:
        if self.device == "cuda":
            return self.gpu_base + (time.monotonic() - self.wall0) * max(1, self.device_count)
        return self.gpu_base + (time.process_time() - self.cpu0)

    def beat(self, **fields: Any) -> None:
        if not _mine(self.shard.pk, self.attempt).update(
            heartbeat_at=timezone.now(), gpu_seconds=self.cost_seconds(), **fields
        ):
            raise ShardLost

    def progress(self, done: int, stage: str = "", **fields: Any) -> None:
        self.beat(done_units=done, stage=stage, **fields)
        run_refresh_progress(self.run.pk, stage=stage)

    def should_stop(self) -> bool:
        self.beat()
        return Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists()

    def sink(self, step: int, metrics: dict[str, float]) -> None:
        """MetricsCallback sink: one row per (step, name), upserted (a resume re-logs)."""
        import math

        rows = [
            RunMetric(run_id=self.run.pk, step=step, name=name[:80], value=value)
            for name, value in metrics.items()
            if math.isfinite(value)
        ]
        if rows:
            RunMetric.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["run", "step", "name"],
                update_fields=["value"],
            )
        self.progress(min(step, self.run.total_units), stage="training")

    def finish(self, completed: bool, result: dict[str, Any]) -> str:
        now = timezone.now()
        final = RunStatus.SUCCEEDED if completed else RunStatus.CANCELLED
        with transaction.atomic():
            if not _mine(self.shard.pk, self.attempt).update(
                status=final,
                finished_at=now,
                heartbeat_at=now,
                done_units=self.run.total_units if completed else self.shard_done(),
                gpu_seconds=self.cost_seconds(),
            ):
                raise ShardLost
            current = Run.objects.get(pk=self.run.pk).result or {}
            Run.objects.filter(pk=self.run.pk).update(result={**current, **result})
        return final

    def shard_done(self) -> int:
        return RunShard.objects.filter(pk=self.shard.pk).values_list("done_units", flat=True)[0]


def _device() -> tuple[str, int]:
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.cuda.device_count()
    return "cpu", 0


def execute(shard: RunShard, attempt: int) -> str:
    """Run the stage of the shard's run; return the shard's final status."""
    stage = Stage(shard, attempt)
    stage.beat()
    handler = {
        RunKind.SFT: _sft,
        RunKind.LABELLING: _labelling,
        RunKind.DPO: _preference,
        RunKind.REWARD: _preference,
        RunKind.EVALUATION: _evaluation,
    }[shard.run.kind]
    completed, result = handler(stage)
    return stage.finish(completed, result)


# --- trainers ----------------------------------------------------------------------------


def _train(stage: Stage, train_config: Any) -> tuple[bool, dict[str, Any]]:
    """Run a trainer with our sink and stop flag; register the final model."""
    from training.engine.trainers import run as run_trainer

    run = stage.run
    stage.progress(0, stage="training")
    result = run_trainer(train_config, callbacks=[stage.sink], should_stop=stage.should_stop)
    summary: dict[str, Any] = {
        "global_step": result.global_step,
        "resumed_from": result.resumed_from,
        "final_metrics": result.final_metrics,
        "stopped": result.stopped,
    }
    resumes = list((Run.objects.get(pk=run.pk).result or {}).get("resumes", []))
    if result.resumed_from:
        resumes.append(Path(result.resumed_from).name)
    summary["resumes"] = resumes
    if result.stopped or result.final_dir is None:
        return False, summary
    if result.final_metrics.get("nonfinite_loss"):
        raise ValueError("the loss became NaN or infinite; nothing was registered")
    entry = trained_model_register(run=run, final_dir=result.final_dir)
    summary["model_id"] = entry.pk
    summary["final_dir"] = result.final_dir
    return True, summary


def _sft(stage: Stage) -> tuple[bool, dict[str, Any]]:
    from . import exports

    run = stage.run
    config = run.config_object()
    dataset = Path(config.train.dataset_path)
    exported: dict[str, Any] = {}
    if not (dataset / "provenance.json").is_file():
        stage.progress(0, stage="export")
        source = Run.objects.select_related("constitution_version", "model", "prompt_set").get(
            pk=run.source_run_id
        )
        if dataset.exists() and not any(dataset.iterdir()):
            dataset.rmdir()
        summary = exports.save_sl_cai_dataset(
            source, dataset, min_rounds=config.min_rounds, sft_run_id=run.pk
        )
        exported = {"dataset_rows": summary.rows, "skipped": summary.skipped_unfinished}
        Run.objects.filter(pk=run.pk).update(examples_total=summary.rows)
    completed, result = _train(stage, config.train)
    return completed, {**exported, **result}


def preference_records(label_set: Any, threshold: float) -> tuple[list[dict], float | None]:
    """The label set's AI labels as DPO pairs, binarised at ``threshold``.

    p(a) is the order-averaged probability (both presentation orders), so a
    constant position bias cancels; the prompt is one user turn.
    """
    from labelling.models import AILabel
    from training.engine.trainers.data import binarise

    rows = []
    for label in (
        AILabel.objects.filter(label_set=label_set, p_a_ab__isnull=False, p_a_ba__isnull=False)
        .select_related("comparison")
        .order_by("comparison_id", "judge")
        .iterator(chunk_size=1000)
    ):
        c = label.comparison
        rows.append(
            {
                "prompt": [{"role": "user", "content": c.prompt}],
                "response_a": c.response_a,
                "response_b": c.response_b,
                "p_a": (label.p_a_ab + label.p_a_ba) / 2.0,
            }
        )
    return binarise(rows, threshold)


def human_pairs(label_set: Any) -> list[dict[str, Any]]:
    """Comparisons with a human a/b consensus, as prompt/chosen/rejected."""
    from labelling.models import Comparison

    pairs = []
    for c in Comparison.objects.filter(label_set=label_set, human_verdict__in=("a", "b")):
        chosen, rejected = (
            (c.response_a, c.response_b) if c.human_verdict == "a" else (c.response_b, c.response_a)
        )
        pairs.append(
            {
                "prompt": [{"role": "user", "content": c.prompt}],
                "chosen": chosen,
                "rejected": rejected,
            }
        )
    return pairs


def _preference(stage: Stage) -> tuple[bool, dict[str, Any]]:
    from training.engine.trainers.data import write_jsonl

    run = stage.run
    config = run.config_object()
    pairs_path = Path(config.train.pairs_path)
    if not pairs_path.is_file():
        stage.progress(0, stage="pairs")
        records, mean = preference_records(run.label_set, config.threshold)
        if not records:
            raise ValueError(
                f"no pair of the label set is at least {config.threshold:g} sure either way"
            )
        tmp = pairs_path.with_suffix(".tmp")
        write_jsonl(records, tmp)
        tmp.replace(pairs_path)
        Run.objects.filter(pk=run.pk).update(
            examples_total=len(records),
            result={
                **(run.result or {}),
                "pairs": len(records),
                "mean_p_chosen": mean,
            },
        )
    completed, result = _train(stage, config.train)
    if completed and run.kind == RunKind.REWARD:
        result.update(_reward_accuracy(stage, result))
    return completed, result


def _reward_accuracy(stage: Stage, result: dict[str, Any]) -> dict[str, Any]:
    """Held-out AI-label accuracy (from the trainer's eval) and accuracy on human reviews."""
    from training.engine.trainers.reward import evaluate_reward_accuracy

    run = stage.run
    step = int(result.get("global_step") or 0)
    out: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    held_out = result.get("final_metrics", {}).get("eval_accuracy")
    if held_out is not None:
        out["accuracy_held_out_ai"] = held_out
        metrics["accuracy/held_out_ai"] = float(held_out)
    humans = human_pairs(run.label_set)
    out["human_pairs"] = len(humans)
    if humans:
        stage.beat(stage="human accuracy")
        accuracy = evaluate_reward_accuracy(result["final_dir"], humans)
        out["accuracy_human"] = accuracy
        metrics["accuracy/human"] = accuracy
    if metrics:
        RunMetric.objects.bulk_create(
            [RunMetric(run_id=run.pk, step=step, name=k, value=v) for k, v in metrics.items()],
            update_conflicts=True,
            unique_fields=["run", "step", "name"],
            update_fields=["value"],
        )
    return out


# --- labelling ---------------------------------------------------------------------------


def _labelling(stage: Stage) -> tuple[bool, dict[str, Any]]:
    """Two sampled answers per prompt, labelled in both orders, stored batch by batch.

    A batch's comparisons and AI labels are written in one transaction, and a batch
    whose labels are stored is skipped, so a resumed run continues where it stopped
    and never duplicates a comparison. Each batch is seeded from (seed, batch), so a
    batch redone after a crash samples the same answers.
    """
    import numpy as np

    from constitutions.selectors import version_content, version_with_content
    from labelling.models import AILabel
    from labelling.services import (
        AILabelInput,
        ComparisonInput,
        ailabel_bulk_create,
        comparison_bulk_create,
    )
    from training.engine.labeller import PairToLabel, label_pairs
    from training.engine.prompts import answer_messages
    from training.engine.types import ChatRequest, SamplingParams

    run = stage.run
    config = run.config_object()
    label_set = run.output_label_set
    judge_name = run.judge_model.name
    rows = list(
        run_prompt_queryset(run.prompt_set, run.prompt_selection).values_list("index", "text")
    )
    content = version_content(version_with_content(run.constitution_version_id))
    principles_by_key = {p.key: p.pk for p in run.constitution_version.principles.all()}
    prefix = f"run{run.pk}-p"
    done_ids = set(
        AILabel.objects.filter(label_set=label_set, judge=judge_name).values_list(
            "comparison__external_id", flat=True
        )
    )
    done = sum(1 for index, _ in rows if f"{prefix}{index}" in done_ids)
    stage.progress(done, stage="labelling", examples_done=done)
    policy = backend_for(run.model.to_spec())
    stage.beat()
    judge = policy if run.judge_model_id == run.model_id else None
    system = config.system_prompt or None
    stopped = False
    for b, start in enumerate(range(0, len(rows), config.batch_size)):
        batch = [(i, t) for i, t in rows[start : start + config.batch_size]]
        todo = [(i, t) for i, t in batch if f"{prefix}{i}" not in done_ids]
        if not todo:
            continue
        if stage.should_stop():
            stopped = True
            break
        stage.beat(stage="sampling")
        policy = backend_for(run.model.to_spec())
        requests = [ChatRequest(answer_messages(t, system=system)) for _, t in todo]
        answers = []
        for j in range(2):
            seed = int(np.random.SeedSequence([config.seed, b, j]).generate_state(1)[0] >> 1)
            params = SamplingParams(
                temperature=config.temperature,
                top_p=config.top_p,
                max_new_tokens=config.max_new_tokens,
                seed=seed,
            )
            answers.append([c.text.strip() for c in policy.generate(requests, params)])
            stage.beat()
        pairs = [
            PairToLabel(index=i, prompt=t, response_a=a, response_b=bb)
            for (i, t), a, bb in zip(todo, answers[0], answers[1], strict=True)
        ]
        stage.beat(stage="judging")
        judge = backend_for(run.judge_model.to_spec())
        labels = label_pairs(
            pairs,
            content=content,
            backend=judge,
            seed=config.seed,
            k_principles=config.k_principles,
            mode=config.mode,
            cot_clamp=(config.cot_clamp_low, config.cot_clamp_high),
            batch_size=len(pairs),
        )
        by_index = {pair.index: pair for pair in pairs}
        comparisons, ai_labels = [], []
        for label in labels:
            pair = by_index[label.index]
            ext = f"{prefix}{label.index}"
            ids = [
                pid if pid is not None else principles_by_key.get(key)
                for pid, key in zip(label.principle_ids, label.principle_keys, strict=True)
            ]
            comparisons.append(
                ComparisonInput(
                    external_id=ext,
                    prompt=pair.prompt,
                    response_a=pair.response_a,
                    response_b=pair.response_b,
                    principle_key=label.principle_keys[0],
                    principle_id=ids[0],
                    category=_category(content, label.principle_keys[0]),
                    metadata={
                        "run_id": run.pk,
                        "prompt_index": label.index,
                        "principle_keys": list(label.principle_keys),
                        "principle_ids": ids,
                        "p_a_mean": label.p_a_mean,
                    },
                )
            )
            ai_labels.append(
                AILabelInput(
                    external_id=ext,
                    judge=judge_name,
                    verdict_ab=label.verdict_ab,
                    verdict_ba=label.verdict_ba,
                    p_a_ab=label.p_a_ab,
                    p_a_ba=label.p_a_ba,
                )
            )
        with transaction.atomic():
            # The fence first: a worker that lost the shard must not write the batch.
            stage.beat(stage="saving")
            from labelling.models import Comparison

            existing = set(
                Comparison.objects.filter(
                    label_set=label_set, external_id__in=[c.external_id for c in comparisons]
                ).values_list("external_id", flat=True)
            )
            comparison_bulk_create(
                label_set=label_set,
                comparisons=[c for c in comparisons if c.external_id not in existing],
            )
            ailabel_bulk_create(label_set=label_set, labels=ai_labels)
        done_ids.update(c.external_id for c in comparisons)
        done += len(comparisons)
        stage.progress(done, stage="labelling", examples_done=done)
    labelled = AILabel.objects.filter(label_set=label_set, judge=judge_name).count()
    return not stopped, {"labels": labelled, "pairs": labelled, "judge": judge_name}


def _category(content: Any, key: str) -> str:
    for principle in content.principles:
        if principle.key == key:
            return principle.category
    return ""


# --- evaluation --------------------------------------------------------------------------


def _evaluation(stage: Stage) -> tuple[bool, dict[str, Any]]:
    from constitutions.selectors import version_content, version_with_content
    from training.engine.evaluation import BENIGN_PROMPTS, evaluate
    from training.engine.types import SamplingParams

    run = stage.run
    config = run.config_object()
    prompts = list(
        run_prompt_queryset(run.prompt_set, run.prompt_selection).values_list("text", flat=True)
    )
    content = version_content(version_with_content(run.constitution_version_id))
    stage.progress(0, stage="loading")
    # One model in memory at a time would be kinder to a GPU, but the evaluation
    # interleaves the three; the backend cache holds one, so load them directly.
    from training.engine.backends import load_backend

    loaded: dict[int, Any] = {}

    def backend(entry: Any) -> Any:
        if entry.pk not in loaded:
            loaded[entry.pk] = load_backend(entry.to_spec())
            stage.beat()
        return loaded[entry.pk]

    try:
        policy, base, judge = backend(run.model), backend(run.base_model), backend(run.judge_model)
        stage.progress(1, stage="evaluating")
        result = evaluate(
            policy,
            base,
            judge,
            prompts,
            list(BENIGN_PROMPTS[: config.benign_limit]),
            content=content,
            seed=config.seed,
            k_principles=config.k_principles,
            params=SamplingParams(
                temperature=0.0, max_new_tokens=config.max_new_tokens, seed=config.seed
            ),
            system=config.system_prompt or None,
            batch_size=config.batch_size,
        )
    finally:
        for b in loaded.values():
            try:
                b.close()
            except Exception:  # noqa: BLE001 - freeing memory must not fail a run
                logger.exception("closing a backend failed")
    summary = {
        "n_pairs": result.n_pairs,
        "wins": result.wins,
        "losses": result.losses,
        "ties": result.ties,
        "win_rate": result.win_rate,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "mean_p_policy": result.mean_p_policy,
        "position_consistency": result.position_consistency,
        "refusal_rate_policy": result.refusal_rate_policy,
        "refusal_rate_base": result.refusal_rate_base,
        "n_benign": result.n_benign,
        "examples": [
            {"prompt": p, "policy": a, "base": b, "p_policy": lab.p_a_mean}
            for p, a, b, lab in list(
                zip(
                    prompts, result.policy_answers, result.base_answers, result.labels, strict=False
                )
            )[:20]
        ],
    }
    Run.objects.filter(pk=run.pk).update(examples_done=result.n_pairs)
    return True, summary
