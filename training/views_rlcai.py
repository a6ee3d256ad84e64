"""Pages of the RL-CAI stages: launch forms per kind, the stage run page with live
charts, and the lineage of a constitution version.

The stage run page is served by ``views.run_detail`` (it hands stage kinds to
:func:`stage_detail`), so every run keeps one URL. Its ``live`` fragment polls every
2 s and the server answers 286 (htmx: stop polling) once the run is over.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from cai_web.models import Capability, Membership, Team
from constitutions.models import ConstitutionVersion

from . import rlcai
from .forms_rlcai import LAUNCH_FORMS
from .models import ModelEntry, Run, RunKind
from .services import TrainingError
from .views import HTMX_STOP_POLLING, _partial, _team

# A common crowdwork estimate for human preference labels (per 1,000 labels).
HUMAN_COST_PER_1000 = (50.0, 500.0)


def launch_forms(team: Team, bound: Any = None) -> list[tuple[str, str, Any]]:
    """(kind, title, form) for every stage, the bound one in place of its blank form."""
    out = []
    for kind, form_class in LAUNCH_FORMS.items():
        if bound is not None and bound.kind == kind:
            form = bound
        else:
            form = form_class(team=team, prefix=kind)
        out.append((kind, RunKind(kind).label, form))
    return out


def _start(kind: str, team: Team, user: Any, data: dict[str, Any], form: Any) -> Run:
    from .rlcai_config import EvaluationRunConfig, LabellingRunConfig

    name = data.get("name") or ""
    if kind == RunKind.SFT:
        return rlcai.sft_start(
            team=team,
            user=user,
            source_run=data["source_run"],
            model=data["model"],
            train=form.train_options(),
            name=name,
        )
    if kind == RunKind.LABELLING:
        config = LabellingRunConfig(
            seed=data["seed"],
            temperature=data["temperature"],
            max_new_tokens=data["max_new_tokens"],
            batch_size=data["batch_size"],
            k_principles=data["k_principles"],
            mode=data["mode"],
        )
        return rlcai.labelling_start(
            team=team,
            user=user,
            prompt_set=data["prompt_set"],
            prompt_selection=data["prompt_selection"],
            policy=data["policy"],
            judge=data["judge"],
            version=data["version"],
            config=config,
            name=name,
        )
    if kind in (RunKind.DPO, RunKind.REWARD):
        return rlcai.preference_start(
            kind=kind,
            team=team,
            user=user,
            label_set=data["label_set"],
            model=data["model"],
            train=form.train_options(),
            threshold=data["threshold"],
            override_reason=data.get("override_reason") or "",
            name=name,
        )
    config = EvaluationRunConfig(
        seed=data["seed"],
        k_principles=data["k_principles"],
        max_new_tokens=data["max_new_tokens"],
        benign_limit=data["benign_limit"],
    )
    return rlcai.evaluation_start(
        team=team,
        user=user,
        policy=data["policy"],
        base=data["base"],
        judge=data["judge"],
        version=data["version"],
        prompt_set=data["prompt_set"],
        config=config,
        name=name,
    )


@require_http_methods(["GET", "POST"])
def stage_launch(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """GET: the launch forms; POST: validate one kind's form and start the run."""
    from training.engine.trainers.config import ConfigError

    team, membership = _team(request, slug, Capability.LAUNCH_RUNS)
    if kind not in LAUNCH_FORMS:
        raise Http404("Unknown run kind.")
    bound = None
    status = 200
    if request.method == "POST":
        bound = LAUNCH_FORMS[kind](request.POST, team=team, prefix=kind)
        if bound.is_valid():
            try:
                run = _start(kind, team, request.user, bound.cleaned_data, bound)
            except TrainingError as exc:
                bound.add_error(exc.field if exc.field in bound.fields else None, str(exc))
            except ConfigError as exc:
                bound.add_error(None, str(exc))
            else:
                messages.success(request, f"{run.get_kind_display()} run #{run.pk} queued.")
                return redirect("run_detail", slug=team.slug, pk=run.pk)
        status = 400
    context = {
        "team": team,
        "membership": membership,
        "forms": launch_forms(team, bound),
        "open_kind": kind,
    }
    return render(request, "training/rlcai_launch.html", context, status=status)


def cost_line(run: Run) -> dict[str, Any]:
    """GPU-seconds (or CPU-seconds), labels per GPU-hour and the human-label equivalent."""
    seconds = run.gpu_seconds or 0.0
    unit = "CPU-seconds (no GPU)" if run.device == "cpu" else "GPU-seconds"
    if run.device == "cuda":
        unit = f"GPU-seconds ({run.device_count} GPU{'s' if run.device_count != 1 else ''})"
    labels = 0
    if run.kind == RunKind.LABELLING:
        labels = int((run.result or {}).get("labels") or run.examples_done or 0)
    hours = seconds / 3600.0
    per_hour = labels / hours if labels and hours > 0 else None
    low, high = (labels * c / 1000.0 for c in HUMAN_COST_PER_1000)
    return {
        "seconds": seconds,
        "unit": unit,
        "per_hour_unit": "CPU-hour" if run.device == "cpu" else "GPU-hour",
        "labels": labels,
        "labels_per_hour": per_hour,
        "human_low": low,
        "human_high": high,
    }


def stage_detail(
    request: HttpRequest, team: Team, membership: Membership, run: Run
) -> HttpResponse:
    """The page of an SFT, labelling, DPO, reward or evaluation run."""
    from .rlcai_charts import run_charts

    run = (
        Run.objects.select_related(
            "source_run",
            "judge_model",
            "base_model",
            "label_set",
            "output_label_set",
            "constitution_version__constitution",
            "model",
            "prompt_set",
            "created_by",
        )
        .filter(pk=run.pk)
        .first()
    )
    shard = run.shards.order_by("index").first()
    context = {
        "team": team,
        "membership": membership,
        "run": run,
        "shard": shard,
        "charts": run_charts(run),
        "cost": cost_line(run),
        "produced": ModelEntry.objects.filter(source_run=run).first(),
        "can_launch": membership.can(Capability.LAUNCH_RUNS),
        "result": run.result or {},
        "train": (run.config or {}).get("train") or {},
    }
    status = HTMX_STOP_POLLING if request.htmx and run.is_finished else 200
    return _partial(request, "training/rlcai_run.html", "live", context, status=status)


def lineage(request: HttpRequest, slug: str, version_pk: int) -> HttpResponse:
    from .lineage import version_lineage

    team, membership = _team(request, slug)
    version = get_object_or_404(
        ConstitutionVersion.objects.select_related("constitution"),
        pk=version_pk,
        constitution__team=team,
    )
    context = {
        "team": team,
        "membership": membership,
        "version": version,
        "tree": version_lineage(version),
    }
    return render(request, "training/rlcai_lineage.html", context)


__all__ = ["cost_line", "launch_forms", "lineage", "stage_detail", "stage_launch"]
