"""Run pages: the runs list, one launch page per kind, one run page for every kind,
cancel and resume, and the lineage of a constitution version.

Every URL sits under ``t/<slug>/``: outsiders get 404, members without LAUNCH_RUNS
get 403 on writes. The run page is a shell (setup, status, shards, charts) plus the
kind's own partial; its ``live`` fragment polls every 2 s and the server answers 286
(htmx: stop polling) once the run is over.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from cai_web.models import Capability, Membership, Team
from cai_web.web import form_error, render_partial, team_for
from constitutions.models import ConstitutionVersion

from .. import selectors, services
from ..charts import overlay_charts
from ..errors import TrainingError
from ..kinds.registry import UnknownKind, get, kinds
from ..lineage import version_lineage
from ..models import SHARD_LOG_LINES, Run, RunStatus


def run_for(
    request: HttpRequest, slug: str, pk: int, capability: str = Capability.VIEW
) -> tuple[Team, Membership, Run]:
    team, membership = team_for(request, slug, capability)
    run = get_object_or_404(
        Run.objects.select_related(
            "team",
            "constitution_version__constitution",
            "prompt_set",
            "model",
            "judge_model",
            "base_model",
            "label_set",
            "output_label_set",
            "source_run",
            "created_by",
        ),
        pk=pk,
        team=team,
    )
    return team, membership, run


RUNS_PER_PAGE = 50


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name) or ""
    return int(value) if value.isdigit() else None


def run_list(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug)
    kind = request.GET.get("kind") or ""
    status = request.GET.get("status") or ""
    filters = {
        "constitution": _int_param(request, "constitution"),
        "model": _int_param(request, "model"),
        "user": _int_param(request, "user"),
    }
    qs = selectors.run_list(team=team, kind=kind, status=status, **filters)
    page = Paginator(qs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    runs = list(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "team": team,
        "membership": membership,
        "runs": runs,
        "page": page,
        "query": query.urlencode(),
        "any_active": any(r.is_active for r in runs),
        "can_launch": membership.can(Capability.LAUNCH_RUNS),
        "kinds": list(kinds().values()),
        "kind": kind,
        "status": status,
        "statuses": RunStatus.choices,
        "filters": filters,
        "choices": selectors.run_filter_choices(team=team),
    }
    return render_partial(request, "training/runs.html", "run-table", context)


def run_compare(request: HttpRequest, slug: str) -> HttpResponse:
    """Two or more runs: their metrics overlaid on one chart each, their configs diffed."""
    team, membership = team_for(request, slug)
    pks = list(dict.fromkeys(int(v) for v in request.GET.getlist("run") if v.isdigit()))[:8]
    compared = selectors.run_compare(team=team, pks=pks)
    labels = [
        (f"#{r.pk} {r.name or r.spec.label}", compared["metrics"][r.pk]) for r in compared["runs"]
    ]
    context = {
        "team": team,
        "membership": membership,
        **compared,
        "charts": overlay_charts(labels) if not compared["problems"] else [],
        "recent": list(selectors.run_list(team=team).exclude(pk__in=pks)[:30]),
        "pks": pks,
    }
    return render(request, "training/run_compare.html", context)


@require_http_methods(["GET", "POST"])
def run_launch(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """GET: the kind's launch form; POST: validate it and start the run through run_start."""
    team, membership = team_for(request, slug, Capability.LAUNCH_RUNS)
    try:
        spec = get(kind)
    except UnknownKind:
        raise Http404("Unknown run kind.") from None
    form = spec.form_class(request.POST or None, team=team, prefix=spec.name)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                run = services.run_start(
                    kind=spec.name,
                    team=team,
                    user=request.user,
                    inputs=form.input_values(),
                    config=form.options(),
                    name=form.cleaned_data.get("name") or "",
                    shard_size=form.requested_shard_size(),
                    idempotency_key=form.cleaned_data.get("launch_key") or "",
                )
            except TrainingError as exc:
                form_error(form, exc)
            else:
                shards = run.shards.count()
                messages.success(
                    request,
                    f"{spec.label} run #{run.pk} queued"
                    + (f" in {shards} shards." if shards > 1 else "."),
                )
                return redirect("run_detail", slug=team.slug, pk=run.pk)
        status = 400
    context = {
        "team": team,
        "membership": membership,
        "spec": spec,
        "form": form,
        "needs": launch_needs(spec, team),
    }
    return render(request, "training/run_launch.html", context, status=status)


# Where a person creates what an input role takes: (URL name, link text).
_CREATE = {
    "ConstitutionVersion": ("constitution_list", "publish a constitution version"),
    "PromptSet": ("promptset_list", "import a prompt set"),
    "ModelEntry": ("model_list", "register a model"),
    "LabelSet": ("labelset_list", "import or produce a label set"),
    "Run": ("run_list", "finish a run it builds on"),
}


def launch_needs(spec: Any, team: Team) -> list[dict[str, Any]]:
    """Each input the kind takes, how many the team has that qualify, and where to add one."""
    needs = []
    for rule in spec.inputs:
        if rule.model is None or rule.allowed is None:
            continue
        url_name, text = _CREATE.get(rule.model.__name__, ("run_list", "add one"))
        needs.append(
            {
                "role": rule.role,
                "label": rule.label,
                "required": rule.required,
                "count": rule.allowed(team).count(),
                "url": reverse(url_name, args=[team.slug]),
                "create": text,
            }
        )
    return needs


def _setup_rows(run: Run) -> list[tuple[str, Any, str]]:
    """(label, object) of each input the run's kind took, in the kind's order."""
    rows = []
    for rule in run.spec.inputs:
        value = getattr(run, rule.run_field, None)
        if value not in (None, ""):
            rows.append((rule.label, value, rule.run_field))
    return rows


def run_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership, run = run_for(request, slug, pk)
    spec = run.spec
    shards = list(run.shards.order_by("index").defer("log_lines"))
    context = {
        "team": team,
        "membership": membership,
        "run": run,
        "spec": spec,
        "setup": _setup_rows(run),
        "shards": shards,
        "live": selectors.run_live_status(run, shards),
        "charts": spec.charts(run),
        "cost": selectors.run_cost(run),
        "produced": run.produced_models.first(),
        "can_launch": membership.can(Capability.LAUNCH_RUNS),
        "result": run.result or {},
        "train": (run.config or {}).get("train") or {},
    }
    return render_partial(
        request, "training/run_detail.html", "live", context, stop_polling=run.is_finished
    )


def run_logs(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """What the workers logged while running the run's shards (each shard keeps its
    newest lines, ``training.shards.ShardLog``): every shard, or one (``?shard=<index>``).
    htmx gets the lines alone, polled while the run is active."""
    team, membership, run = run_for(request, slug, pk)
    shard = _int_param(request, "shard")
    context = {
        "team": team,
        "membership": membership,
        "run": run,
        "shard": shard,
        "lines_kept": SHARD_LOG_LINES,
        **selectors.run_shard_logs(run, shard=shard),
    }
    return render_partial(
        request, "training/run_logs.html", "log-lines", context, stop_polling=run.is_finished
    )


@require_POST
def run_cancel(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _, run = run_for(request, slug, pk, Capability.LAUNCH_RUNS)
    try:
        services.run_cancel(run=run, user=request.user)
    except TrainingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Cancel requested: running shards stop after their current step.")
    return redirect("run_detail", slug=team.slug, pk=run.pk)


@require_POST
def run_resume(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _, run = run_for(request, slug, pk, Capability.LAUNCH_RUNS)
    try:
        services.run_resume(run=run, user=request.user)
    except TrainingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run re-queued: {run.spec.resume_note}.")
    return redirect("run_detail", slug=team.slug, pk=run.pk)


def lineage(request: HttpRequest, slug: str, version_pk: int) -> HttpResponse:
    team, membership = team_for(request, slug)
    version = get_object_or_404(
        ConstitutionVersion.objects.select_related("constitution"),
        pk=version_pk,
        constitution__team=team,
    )
    context = {
        "team": team,
        "membership": membership,
        "version": version,
        "roots": version_lineage(version),
    }
    return render(request, "training/lineage.html", context)
