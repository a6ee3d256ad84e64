"""Reads of the training app that views, commands and exports share."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from cai_web.models import Capability, Membership, Team

from .models import (
    ACTIVE_STATUSES,
    Example,
    ExampleRound,
    Finish,
    ModelEntry,
    PromptSet,
    Run,
    RunMetric,
    RunShard,
    RunStatus,
)


def run_list(
    *,
    team: Team,
    kind: str = "",
    status: str = "",
    constitution: int | None = None,
    model: int | None = None,
    user: int | None = None,
) -> QuerySet[Run]:
    """The team's runs, newest first; each argument given narrows the list.

    ``constitution`` is a constitution id (any of its versions), ``model`` a model
    entry the run used in any role, ``user`` the id of who started it.
    """
    qs = Run.objects.filter(team=team).select_related(
        "constitution_version__constitution", "prompt_set", "model", "created_by"
    )
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if constitution:
        qs = qs.filter(constitution_version__constitution_id=constitution)
    if model:
        qs = qs.filter(Q(model_id=model) | Q(judge_model_id=model) | Q(base_model_id=model))
    if user:
        qs = qs.filter(created_by_id=user)
    return qs


def run_filter_choices(*, team: Team) -> dict[str, list[tuple[int, str]]]:
    """What the runs list can be filtered by: constitutions, models and people with runs."""
    from django.contrib.auth import get_user_model

    from constitutions.models import Constitution

    runs = Run.objects.filter(team=team)
    return {
        "constitutions": list(
            Constitution.objects.filter(versions__runs__in=runs)
            .distinct()
            .order_by("name")
            .values_list("pk", "name")
        ),
        "models": list(
            ModelEntry.objects.filter(team=team).order_by("name").values_list("pk", "name")
        ),
        "users": list(
            get_user_model()
            .objects.filter(pk__in=runs.values("created_by"))
            .order_by("username")
            .values_list("pk", "username")
        ),
    }


def run_compare(*, team: Team, pks: list[int]) -> dict[str, Any]:
    """Runs of the team side by side: their metrics overlaid and their configs diffed.

    Runs are compatible when they log metrics of the same names (trainers: SFT, DPO,
    reward) or when they are of one kind; ``problems`` says why a pick cannot be
    compared. Config rows are the flattened keys ("train.learning_rate") with one
    value per run and ``differs`` when the values are not all equal.
    """
    runs = list(
        Run.objects.filter(team=team, pk__in=pks).select_related(
            "constitution_version__constitution", "model", "prompt_set"
        )
    )
    runs.sort(key=lambda r: pks.index(r.pk))
    problems = []
    missing = sorted(set(pks) - {r.pk for r in runs})
    if missing:
        problems.append(f"No run {', '.join(f'#{pk}' for pk in missing)} in this team.")
    if len(runs) < 2:
        problems.append("Pick at least two runs to compare.")
    metrics = {r.pk: run_metric_series(r) for r in runs}
    kinds = {r.kind for r in runs}
    shared = set.intersection(*(set(m) for m in metrics.values())) if metrics else set()
    if len(runs) >= 2 and len(kinds) > 1 and not shared:
        problems.append(
            "These runs log no metric in common and are of different kinds: "
            + ", ".join(sorted(r.spec.label for r in runs))
            + ". Pick runs of one kind, or trainers (SFT, DPO, reward) that log a loss."
        )
    flat = [_flatten(r.config or {}) for r in runs]
    keys = sorted({k for f in flat for k in f})
    rows = []
    for key in keys:
        values = [f.get(key, "—") for f in flat]
        rows.append(
            {"key": key, "values": values, "differs": len({json_key(v) for v in values}) > 1}
        )
    return {"runs": runs, "metrics": metrics, "config_rows": rows, "problems": problems}


def json_key(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def prompt_set_list(*, team: Team) -> QuerySet[PromptSet]:
    return PromptSet.objects.filter(team=team).select_related("created_by")


def model_list(*, team: Team) -> QuerySet[ModelEntry]:
    return ModelEntry.objects.filter(team=team).annotate(run_count=Count("runs"))


def run_principles(run: Run) -> list[tuple[int, str]]:
    """(principle id, key) of the run's constitution version, in display order."""
    from constitutions.models import Principle

    return list(
        Principle.objects.filter(version_id=run.constitution_version_id)
        .order_by("order", "pk")
        .values_list("pk", "key")
    )


def example_results(
    run: Run,
    *,
    principle: int | None = None,
    round: int | None = None,
    truncated: bool = False,
) -> QuerySet[Example]:
    """The run's examples with their rounds, filtered.

    ``principle`` keeps examples critiqued against that principle (in ``round`` when
    given, else in any round); ``round`` alone keeps examples that reached that
    round; ``truncated`` keeps examples where any generation hit the token limit.
    """
    qs = Example.objects.filter(run=run)
    round_filter = Q()
    if round:
        round_filter &= Q(rounds__round=round)
    if principle:
        round_filter &= Q(rounds__principle_id=principle)
    if round or principle:
        qs = qs.filter(round_filter)
    if truncated:
        qs = qs.filter(
            Q(initial_finish=Finish.LENGTH)
            | Q(rounds__critique_finish=Finish.LENGTH)
            | Q(rounds__revision_finish=Finish.LENGTH)
        )
    return (
        qs.distinct()
        .select_related("prompt")
        .prefetch_related(
            Prefetch(
                "rounds",
                queryset=ExampleRound.objects.select_related("principle").order_by("round"),
            )
        )
        .order_by("index")
    )


def run_statistics(run: Run) -> dict[str, Any]:
    """Counts behind the statistics page.

    - principle usage: how often each principle was drawn (all rounds pooled), against
      the count its probability predicts (probability x rounds stored);
    - mean answer length in words per round (0 is the initial answer, r the r-th
      revision) and the share of answers that open with a refusal phrase
      (``training.engine.prompts.is_refusal``), to make over-refusal visible;
    - truncation: the share of each stage's generations that hit max_new_tokens.
    """
    from constitutions.content import ContentError
    from constitutions.sampler import principle_probabilities
    from constitutions.selectors import version_content, version_with_content
    from training.engine.prompts import is_refusal

    rounds_n = int(run.config.get("rounds", 1) or 1)
    lengths: dict[int, list[int]] = {r: [] for r in range(rounds_n + 1)}
    refusals: Counter[int] = Counter()
    truncated: Counter[str] = Counter()
    totals: Counter[str] = Counter()

    for text, finish in (
        Example.objects.filter(run=run).values_list("initial_answer", "initial_finish").iterator()
    ):
        lengths[0].append(len(text.split()))
        refusals[0] += is_refusal(text)
        totals["answer"] += 1
        truncated["answer"] += finish == Finish.LENGTH
    usage: Counter[str] = Counter()
    for r, key, revision, c_finish, r_finish in (
        ExampleRound.objects.filter(example__run=run)
        .values_list("round", "principle_key", "revision", "critique_finish", "revision_finish")
        .iterator()
    ):
        usage[key] += 1
        totals["critique"] += 1
        truncated["critique"] += c_finish == Finish.LENGTH
        if revision is not None:
            lengths.setdefault(r, []).append(len(revision.split()))
            refusals[r] += is_refusal(revision)
            totals["revision"] += 1
            truncated["revision"] += r_finish == Finish.LENGTH

    try:
        probabilities = (
            principle_probabilities(
                version_content(version_with_content(run.constitution_version_id))
            )
            if run.constitution_version_id
            else {}
        )
    except ContentError:
        probabilities = {}
    keys = list(probabilities) + sorted(k for k in usage if k not in probabilities)
    pooled = sum(usage.values())
    principle_rows = [
        {
            "key": key,
            "observed": usage.get(key, 0),
            "probability": probabilities.get(key, 0.0),
            "expected": probabilities.get(key, 0.0) * pooled,
            "share": usage.get(key, 0) / pooled if pooled else 0.0,
        }
        for key in keys
    ]
    round_rows = [
        {
            "round": r,
            "label": "initial" if r == 0 else f"revision {r}",
            "n": len(values),
            "mean_words": sum(values) / len(values) if values else None,
            "refusal_rate": refusals[r] / len(values) if values else None,
        }
        for r, values in sorted(lengths.items())
    ]
    truncation_rows = [
        {
            "stage": stage,
            "n": totals[stage],
            "rate": truncated[stage] / totals[stage] if totals[stage] else 0.0,
        }
        for stage in ("answer", "critique", "revision")
    ]
    return {
        "principles": principle_rows,
        "rounds": round_rows,
        "truncation": truncation_rows,
        "pooled": pooled,
    }


def dashboard_panel(*, team: Team, membership: Membership) -> dict[str, Any]:
    return {
        "id": "runs",
        "title": "Runs",
        "url": reverse("run_list", args=[team.slug]),
        "template": "training/_dashboard_panel.html",
        "runs": list(run_list(team=team)[:6]),
        "prompt_set_count": PromptSet.objects.filter(team=team).count(),
        "model_count": ModelEntry.objects.filter(team=team).count(),
        "can_launch": membership.can(Capability.LAUNCH_RUNS),
        "team": team,
    }


def run_metric_series(run: Run) -> dict[str, list[tuple[int, float]]]:
    """The run's logged metrics: name → (step, value) points in step order."""
    by_name: dict[str, list[tuple[int, float]]] = {}
    for step, name, value in (
        RunMetric.objects.filter(run=run).order_by("step").values_list("step", "name", "value")
    ):
        by_name.setdefault(name, []).append((step, value))
    return by_name


# A common crowdwork estimate for human preference labels (per 1,000 labels).
HUMAN_COST_PER_1000 = (50.0, 500.0)


def run_cost(run: Run) -> dict[str, Any]:
    """GPU-seconds (or CPU-seconds), labels per GPU-hour and the human-label equivalent."""
    seconds = run.gpu_seconds or 0.0
    unit = "CPU-seconds (no GPU)" if run.device == "cpu" else "GPU-seconds"
    if run.device == "cuda":
        unit = f"GPU-seconds ({run.device_count} GPU{'s' if run.device_count != 1 else ''})"
    labels = run.spec.labels_produced(run)
    hours = seconds / 3600.0
    low, high = (labels * c / 1000.0 for c in HUMAN_COST_PER_1000)
    return {
        "seconds": seconds,
        "unit": unit,
        "per_hour_unit": "CPU-hour" if run.device == "cpu" else "GPU-hour",
        "labels": labels,
        "labels_per_hour": labels / hours if labels and hours > 0 else None,
        "human_low": low,
        "human_high": high,
    }


def stage_parts(stage: str) -> tuple[str, int, int]:
    """("judging", 3, 8) from the stage text a worker wrote ("judging 3/8"); 0, 0 without a batch.

    Workers keep the current batch in the stage text (``RunShard.stage`` is 20
    characters), so the run page can say "judging · batch 3 / 8" with no extra column.
    """
    name, _, batch = stage.rpartition(" ")
    if name and "/" in batch:
        done, _, total = batch.partition("/")
        if done.isdigit() and total.isdigit():
            return name, int(done), int(total)
    return stage, 0, 0


def run_live_status(run: Run, shards: list[RunShard], *, now: Any = None) -> dict[str, Any]:
    """What the run page's status line says, computed afresh on every poll.

    - ``stage``: what a running shard is doing now (shards write their stage on every
      heartbeat; the run row only on progress), "judging 3/8" style;
    - ``heartbeat_at``: the freshest heartbeat of the run or any shard, with its age
      and ``stale`` only past ``RUN_HEARTBEAT_STALE_SECONDS`` (when the reaper acts);
    - ``eta_seconds``: the worker's estimate counted down since it was written, else
      the measured rate since the start; ``None`` (shown as "unknown") before any
      unit is done, ``eta_basis`` says which;
    - ``queue``: for a queued run, the active runs created before it (all teams share
      the workers), those of this team by name, the others as a count.
    """
    now = now or timezone.now()
    running = [s for s in shards if s.status == RunStatus.RUNNING]
    beats = [t for t in [run.heartbeat_at, *(s.heartbeat_at for s in shards)] if t]
    heartbeat_at = max(beats) if beats else None
    age = (now - heartbeat_at).total_seconds() if heartbeat_at else None
    stale_after = settings.RUN_HEARTBEAT_STALE_SECONDS
    freshest = max(running, key=lambda s: s.heartbeat_at or now, default=None)
    stage = (freshest.stage if freshest and freshest.stage else run.stage) or ""
    stage_name, batch, batches = stage_parts(stage)
    round_ = freshest.round if freshest and freshest.round else run.round

    eta, basis = None, "no unit finished yet"
    remaining = max(0, run.total_units - run.done_units)
    if run.status == RunStatus.RUNNING:
        if run.eta_seconds is not None and run.heartbeat_at:
            since = (now - run.heartbeat_at).total_seconds()
            eta, basis = max(0.0, run.eta_seconds - since), "from the workers' measured rate"
        elif run.done_units and run.started_at:
            elapsed = (now - run.started_at).total_seconds()
            if elapsed > 0:
                eta = remaining / (run.done_units / elapsed)
                basis = "from the average rate since the start"
        if eta is not None and eta <= 0 and remaining:
            eta, basis = None, "the estimate ran out; waiting for the next batch"
    queue = run_queue_position(run) if run.status == RunStatus.QUEUED else None
    return {
        "stage": stage_name,
        "batch": batch,
        "batches": batches,
        "round": round_,
        "heartbeat_at": heartbeat_at,
        "heartbeat_age": age,
        "stale": bool(run.status == RunStatus.RUNNING and age is not None and age > stale_after),
        "stale_after": stale_after,
        "eta_seconds": eta,
        "eta_basis": basis,
        "queue": queue,
        "workers": sorted({s.worker for s in shards if s.worker}),
    }


def run_queue_position(run: Run) -> dict[str, Any]:
    """The active runs ahead of a queued one, oldest first (the workers take shards FIFO)."""
    ahead = Run.objects.filter(status__in=ACTIVE_STATUSES, created_at__lt=run.created_at).exclude(
        pk=run.pk
    )
    mine = list(ahead.filter(team_id=run.team_id).order_by("created_at")[:10])
    total = ahead.count()
    shards_ahead = RunShard.objects.filter(run__in=ahead, status__in=ACTIVE_STATUSES).count()
    return {
        "position": total + 1,
        "ahead": mine,
        "ahead_total": total,
        "ahead_other_teams": total - ahead.filter(team_id=run.team_id).count(),
        "shards_ahead": shards_ahead,
        "running_anywhere": RunShard.objects.filter(status=RunStatus.RUNNING).count(),
    }


def run_shard_logs(run: Run, *, shard: int | None = None) -> dict[str, Any]:
    """The run's log page: ``shards`` (every shard, without its lines: the filter) and
    ``logs``, one entry per shard shown (all, or the one whose index is ``shard``) with
    its stored lines, oldest first, each with ``clock`` (its UTC time to the millisecond,
    zone named: a log is read to the second) and ``error`` (warnings and errors)."""
    import datetime as dt

    rows = RunShard.objects.filter(run=run).order_by("index")
    shards = list(rows.defer("log_lines"))
    shown = list(rows.filter(index=shard) if shard is not None else rows)
    logs = []
    for s in shown:
        lines = []
        for line in s.log_lines if isinstance(s.log_lines, list) else []:
            try:
                when = dt.datetime.fromisoformat(str(line.get("at"))).astimezone(dt.UTC)
                clock = f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d} UTC"
            except (TypeError, ValueError):
                clock = str(line.get("at") or "")
            level = str(line.get("level") or "")
            lines.append(
                {**line, "clock": clock, "error": level in ("ERROR", "CRITICAL", "WARNING")}
            )
        logs.append({"shard": s, "lines": lines})
    return {"shards": shards, "logs": logs}


# --------------------------------------------------------------------- model page


@dataclass(frozen=True)
class TrainedFrom:
    """One step up a model's lineage: the run that made it and what that run took."""

    model: ModelEntry
    run: Run
    inputs: list[tuple[str, Any]]


@dataclass(frozen=True)
class JudgeCalibration:
    """One calibration of a judge model on a gold set (figures from ``run.result``)."""

    run: Run
    gold_set: Any
    figures: dict[str, Any]


def run_inputs(run: Run) -> list[tuple[str, Any]]:
    """(label, object) of each input the run's kind took, in the kind's order."""
    rows = []
    for rule in run.spec.inputs:
        value = getattr(run, rule.run_field, None)
        if value not in (None, ""):
            rows.append((rule.label, value))
    return rows


def model_get(*, team: Team, pk: int) -> ModelEntry:
    from django.http import Http404

    entry = (
        ModelEntry.objects.filter(team=team, pk=pk)
        .select_related("source_run", "created_by")
        .first()
    )
    if entry is None:
        raise Http404("No such model.")
    return entry


def model_lineage(entry: ModelEntry, *, limit: int = 20) -> list[TrainedFrom]:
    """The chain of runs that made ``entry``: its run, the run that made that run's
    starting model, and so on up to a model nobody here trained (``limit`` steps)."""
    chain: list[TrainedFrom] = []
    seen: set[int] = set()
    current: ModelEntry | None = entry
    while current is not None and current.source_run_id and len(chain) < limit:
        run = (
            Run.objects.select_related(
                "constitution_version__constitution",
                "prompt_set",
                "model",
                "judge_model",
                "base_model",
                "label_set",
                "source_run",
            )
            .filter(pk=current.source_run_id)
            .first()
        )
        if run is None or run.pk in seen:
            break
        seen.add(run.pk)
        chain.append(TrainedFrom(model=current, run=run, inputs=run_inputs(run)))
        current = run.model if run.model_id != current.pk else None
    return chain


def model_runs(entry: ModelEntry, *, limit: int = 50) -> QuerySet[Run]:
    """The newest runs that used ``entry`` in any role (policy, judge, base)."""
    return (
        Run.objects.filter(
            Q(model_id=entry.pk) | Q(judge_model_id=entry.pk) | Q(base_model_id=entry.pk)
        )
        .select_related("constitution_version__constitution", "created_by")
        .order_by("-created_at", "-pk")[:limit]
    )


def judge_calibrations(entry: ModelEntry) -> list[JudgeCalibration]:
    """Every finished calibration of ``entry`` as a judge, oldest first: the runs whose
    result carries gold-set figures (``result["calibration"]``), whatever their kind."""
    runs = (
        Run.objects.filter(judge_model_id=entry.pk, result__has_key="calibration")
        .select_related("label_set", "constitution_version__constitution")
        .order_by("created_at", "pk")
    )
    return [
        JudgeCalibration(run=run, gold_set=run.label_set, figures=run.result["calibration"])
        for run in runs
        if isinstance(run.result.get("calibration"), dict)
    ]


# --- principles mined from disagreements (training.kinds.mining) -------------------------


@dataclass(frozen=True)
class MinedCandidate:
    """One candidate principle of a mining run, with its agreement with the humans."""

    index: int
    critique_request: str
    revision_request: str
    comparison_question: str
    support: int
    sources: list[str]
    agreement: Any  # labelling.stats.Rate, or None until tested
    consistent: int | None
    added: dict[str, Any] | None
    delta: float | None = None  # agreement minus the constitution's, when both are known


@dataclass(frozen=True)
class MinedPrinciples:
    """A mining run's candidates ranked, the constitution's agreement, and the counts."""

    run: Run
    candidates: list[MinedCandidate]
    baseline: Any  # labelling.stats.Rate, or None until relabelled
    counts: dict[str, int]
    unparsed: list[dict[str, str]]
    label_set_name: str


def mined_principles(run: Run) -> MinedPrinciples | None:
    """The run's mined candidates, best first, or None when the run mined none.

    Ranked by the lower end of the Wilson interval of their agreement (a candidate
    must be surely good, not luckily so), then by agreement, then by how many
    disagreements proposed it; untested candidates come last.
    """
    from labelling.stats import wilson_rate

    result = run.result or {}
    if "candidates" not in result and "proposals" not in result:
        return None

    def rate(counts: dict[str, int] | None) -> Any:
        return None if counts is None else wilson_rate(counts["k"], counts["n"])

    rows = [
        MinedCandidate(
            index=int(c["index"]),
            critique_request=c["critique_request"],
            revision_request=c["revision_request"],
            comparison_question=c["comparison_question"],
            support=int(c["support"]),
            sources=list(c.get("sources") or []),
            agreement=rate(c.get("agreement")),
            consistent=(c.get("agreement") or {}).get("consistent"),
            added=c.get("added"),
        )
        for c in result.get("candidates") or []
    ]

    def key(c: MinedCandidate) -> tuple:
        if c.agreement is None or c.agreement.rate is None:
            return (1, 0.0, 0.0, -c.support, c.index)
        return (0, -c.agreement.ci_low, -c.agreement.rate, -c.support, c.index)

    baseline = rate(result.get("baseline"))
    if baseline is not None and baseline.rate is not None:
        rows = [
            c
            if c.agreement is None or c.agreement.rate is None
            else dataclasses.replace(c, delta=c.agreement.rate - baseline.rate)
            for c in rows
        ]
    rows.sort(key=key)
    counts = dict(result.get("counts") or {"proposals": len(result.get("proposals") or [])})
    return MinedPrinciples(
        run=run,
        candidates=rows,
        baseline=baseline,
        counts=counts,
        unparsed=list(result.get("unparsed") or []),
        label_set_name=run.label_set.name if run.label_set is not None else "",
    )
