"""Runs, prompt sets and the model registry, server-rendered with htmx where it helps.

Every URL sits under ``t/<slug>/``: outsiders get 404 (``require_membership``),
members without LAUNCH_RUNS get 403 on writes. A run page polls its own progress
fragment every 2 s and the server answers 286 (htmx: stop polling) once it is over.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from cai_web.models import Capability, Membership, Team
from cai_web.permissions import require_membership

from . import selectors, services
from .forms import ModelRegisterForm, PromptSetUploadForm, ResultsFilterForm, RunLaunchForm
from .models import Prompt, PromptSet, Run

HTMX_STOP_POLLING = 286
MAX_UPLOAD_BYTES = 20_000_000


def _team(
    request: HttpRequest, slug: str, capability: str = Capability.VIEW
) -> tuple[Team, Membership]:
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team, require_membership(request.user, team, capability)


def _run(request: HttpRequest, slug: str, pk: int, capability: str = Capability.VIEW):
    team, membership = _team(request, slug, capability)
    run = get_object_or_404(
        Run.objects.select_related(
            "team", "constitution_version__constitution", "prompt_set", "model", "created_by"
        ),
        pk=pk,
        team=team,
    )
    return team, membership, run


def _partial(request: HttpRequest, template: str, partial: str, context: dict, status: int = 200):
    name = f"{template}#{partial}" if request.htmx else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- runs ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = _team(request, slug)
    can_launch = membership.can(Capability.LAUNCH_RUNS)
    form = RunLaunchForm(team=team)
    status = 200
    if request.method == "POST":
        require_membership(request.user, team, Capability.LAUNCH_RUNS)
        form = RunLaunchForm(request.POST, team=team)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = services.critique_revision_start(
                    team=team,
                    user=request.user,
                    version=data["version"],
                    prompt_set=data["prompt_set"],
                    model=data["model"],
                    config=data["config"],
                    prompt_selection=data["prompt_selection"],
                    shard_size=data["shard_size"],
                    name=data.get("name") or "",
                )
            except services.TrainingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, f"Run #{run.pk} queued in {run.shards.count()} shard(s).")
                return redirect("run_detail", slug=team.slug, pk=run.pk)
        status = 400
    runs = selectors.run_list(team=team)[:200]
    context = {
        "team": team,
        "membership": membership,
        "runs": runs,
        "any_active": any(r.is_active for r in runs),
        "form": form,
        "can_launch": can_launch,
        "options": selectors.launch_options(team=team),
    }
    return _partial(request, "training/runs.html", "run-table", context, status=status)


def run_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership, run = _run(request, slug, pk)
    if run.kind != "critique_revision":  # RL-CAI stages have their own page
        from .views_rlcai import stage_detail

        return stage_detail(request, team, membership, run)
    context = {
        "team": team,
        "membership": membership,
        "run": run,
        "shards": list(run.shards.order_by("index")),
        "can_launch": membership.can(Capability.LAUNCH_RUNS),
    }
    status = HTMX_STOP_POLLING if request.htmx and run.is_finished else 200
    return _partial(request, "training/run_detail.html", "progress", context, status=status)


@require_POST
def run_cancel(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _, run = _run(request, slug, pk, Capability.LAUNCH_RUNS)
    try:
        services.run_cancel(run=run, user=request.user)
    except services.TrainingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, "Cancel requested: running shards stop after their current batch."
        )
    return redirect("run_detail", slug=team.slug, pk=run.pk)


@require_POST
def run_resume(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _, run = _run(request, slug, pk, Capability.LAUNCH_RUNS)
    try:
        services.run_resume(run=run, user=request.user)
    except services.TrainingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Run re-queued: it continues where it stopped.")
    return redirect("run_detail", slug=team.slug, pk=run.pk)


def run_results(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership, run = _run(request, slug, pk)
    rounds = int(run.config.get("rounds", 1) or 1)
    filters = ResultsFilterForm(
        request.GET or None, principles=selectors.run_principles(run), rounds=rounds
    )
    kwargs = {}
    if filters.is_valid():
        kwargs = {
            "principle": filters.cleaned_data.get("principle"),
            "round": filters.cleaned_data.get("round"),
            "truncated": filters.cleaned_data.get("truncated") or False,
        }
    page = Paginator(selectors.example_results(run, **kwargs), 20).get_page(request.GET.get("page"))
    for example in page:
        revised = [r.revision for r in example.rounds.all() if r.revision is not None]
        example.final_answer = revised[-1] if revised else None
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "team": team,
        "membership": membership,
        "run": run,
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
    }
    return _partial(request, "training/run_results.html", "results", context)


def run_stats(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    from .charts import grouped_bar_chart, line_chart

    team, membership, run = _run(request, slug, pk)
    stats = selectors.run_statistics(run)
    rows = stats["principles"]
    usage_chart = grouped_bar_chart(
        [r["key"] for r in rows],
        [
            ("observed", [r["observed"] for r in rows]),
            ("expected", [round(r["expected"], 1) for r in rows]),
        ],
        title="Principle usage: observed draws against the constitution's probabilities",
    )
    labels = [r["label"] for r in stats["rounds"]]
    length_chart = line_chart(
        labels,
        [
            (
                "mean words",
                [
                    round(r["mean_words"], 1) if r["mean_words"] is not None else None
                    for r in stats["rounds"]
                ],
            )
        ],
        title="Mean answer length (words) per round",
    )
    refusal_chart = line_chart(
        labels,
        [
            (
                "refusal rate",
                [
                    round(100 * r["refusal_rate"], 1) if r["refusal_rate"] is not None else None
                    for r in stats["rounds"]
                ],
            )
        ],
        title="Answers opening with a refusal phrase (%) per round",
        value_format="{:g}%",
        y_max=100,
    )
    context = {
        "team": team,
        "membership": membership,
        "run": run,
        "stats": stats,
        "usage_chart": usage_chart,
        "length_chart": length_chart,
        "refusal_chart": refusal_chart,
    }
    return TemplateResponse(request, "training/run_stats.html", context)


def run_export(request: HttpRequest, slug: str, pk: int, fmt: str) -> HttpResponse:
    import json
    import tempfile

    from . import exports

    team, _, run = _run(request, slug, pk)
    if fmt == "provenance.json":
        body = json.dumps(exports.provenance(run), indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-provenance.json"'
        return response
    if fmt == "trl.jsonl":
        handle = tempfile.TemporaryFile(mode="w+b")
        for record in exports.sl_cai_records(run):
            handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        handle.seek(0)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"run-{run.pk}-sl-cai.jsonl",
            content_type="application/jsonl",
        )
    if fmt == "datasets.zip":
        try:
            path = exports.hf_dataset_zip(run)
        except ImportError:
            messages.error(request, "The datasets package is not installed on the web server.")
            return redirect("run_detail", slug=team.slug, pk=run.pk)
        except ValueError as exc:  # nothing finished to export yet
            messages.error(request, f"Nothing to export: {exc}.")
            return redirect("run_detail", slug=team.slug, pk=run.pk)
        return FileResponse(
            open(path, "rb"), as_attachment=True, filename=path.name, content_type="application/zip"
        )
    raise Http404("Unknown export format.")


# --- prompt sets --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def promptset_list(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = _team(request, slug)
    form = PromptSetUploadForm()
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        require_membership(request.user, team, Capability.LAUNCH_RUNS)
        form = PromptSetUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_UPLOAD_BYTES:
                problems = [f"the file is {upload.size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,}"]
            else:
                try:
                    prompt_set = services.promptset_import(
                        team=team,
                        user=request.user,
                        name=form.cleaned_data["name"],
                        data=upload.read(),
                        filename=upload.name,
                        held_out_fraction=form.cleaned_data["held_out_fraction"],
                        split_seed=form.cleaned_data["split_seed"],
                    )
                except services.PromptSetError as exc:
                    problems = exc.problems
                except services.TrainingError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, str(exc))
                else:
                    dupes = prompt_set.duplicates_removed
                    messages.success(
                        request,
                        f"Imported {prompt_set.count:,} prompts"
                        + (f" ({dupes:,} duplicates removed)" if dupes else "")
                        + ".",
                    )
                    return redirect("promptset_detail", slug=team.slug, pk=prompt_set.pk)
        status = 400
    context = {
        "team": team,
        "membership": membership,
        "prompt_sets": selectors.prompt_set_list(team=team),
        "form": form,
        "problems": problems,
        "can_upload": membership.can(Capability.LAUNCH_RUNS),
    }
    return render(request, "training/promptsets.html", context, status=status)


def promptset_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = _team(request, slug)
    prompt_set = get_object_or_404(PromptSet, pk=pk, team=team)
    split = request.GET.get("split") or ""
    prompts = Prompt.objects.filter(prompt_set=prompt_set).order_by("index")
    if split in ("train", "held_out"):
        prompts = prompts.filter(split=split)
    page = Paginator(prompts, 50).get_page(request.GET.get("page"))
    context = {
        "team": team,
        "membership": membership,
        "prompt_set": prompt_set,
        "page": page,
        "split": split,
    }
    return render(request, "training/promptset_detail.html", context)


# --- models -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def model_list(request: HttpRequest, slug: str) -> HttpResponse:
    team, membership = _team(request, slug)
    form = ModelRegisterForm()
    status = 200
    if request.method == "POST":
        require_membership(request.user, team, Capability.LAUNCH_RUNS)
        form = ModelRegisterForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    entry = services.model_register(team=team, user=request.user, **data)
            except services.TrainingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, f"Registered {entry.name}.")
                return redirect("model_list", slug=team.slug)
        status = 400
    context = {
        "team": team,
        "membership": membership,
        "models": selectors.model_list(team=team),
        "form": form,
        "can_register": membership.can(Capability.LAUNCH_RUNS),
    }
    return render(request, "training/models.html", context, status=status)
