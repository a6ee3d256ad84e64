"""Reads of the training app that views, commands and exports share."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.urls import reverse

from cai_web.models import Capability, Membership, Team

from .models import Example, ExampleRound, Finish, ModelEntry, PromptSet, Run, RunMetric


def run_list(*, team: Team, kind: str = "", status: str = "") -> QuerySet[Run]:
    """The team's runs, newest first; ``kind`` / ``status`` filter when given."""
    qs = Run.objects.filter(team=team).select_related(
        "constitution_version__constitution", "prompt_set", "model", "created_by"
    )
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


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
