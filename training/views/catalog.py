"""Prompt sets and the model registry of a team."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from cai_web.models import Capability
from cai_web.permissions import require_membership
from cai_web.web import form_error, team_for
from labelling import uploads
from labelling.models import FileJob

from .. import selectors, services
from ..forms import ModelRegisterForm, PromptSetUploadForm
from ..models import Prompt, PromptSet

# --- prompt sets --------------------------------------------------------------------------


@csrf_exempt  # the upload handler must be set before CSRF reads the body; checked below
@require_http_methods(["GET", "POST"])
def promptset_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The upload goes straight to disk (``labelling.uploads``) and a worker imports it;
    the browser is sent to the job's page (progress, then every problem or the set)."""
    team, membership = team_for(request, slug)
    if request.method == "POST":
        require_membership(request.user, team, Capability.LAUNCH_RUNS)
        uploads.stored_uploads(request)
    return _promptset_list(request, team, membership)


@csrf_protect
def _promptset_list(request: HttpRequest, team, membership) -> HttpResponse:
    form = PromptSetUploadForm()
    status = 200
    if request.method == "POST":
        form = PromptSetUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.promptset_import_start(
                    team=team,
                    user=request.user,
                    name=form.cleaned_data["name"],
                    upload_path=str(upload.stored_path),
                    upload_name=upload.name,
                    upload_size=upload.size,
                    held_out_fraction=form.cleaned_data["held_out_fraction"],
                    split_seed=form.cleaned_data["split_seed"],
                )
            except services.TrainingError as exc:
                form_error(form, exc)
            else:
                upload.close()
                return redirect("filejob_detail", slug=team.slug, pk=job.pk)
        uploads.discard_uploads(request)
        status = 400
    context = {
        "team": team,
        "membership": membership,
        "prompt_sets": selectors.prompt_set_list(team=team),
        "form": form,
        "problems": [],
        "can_upload": membership.can(Capability.LAUNCH_RUNS),
        "imports": FileJob.objects.filter(
            team=team, kind=FileJob.Kind.PROMPT_IMPORT, status__in=FileJob.ACTIVE
        )[:10],
    }
    return render(request, "training/promptsets.html", context, status=status)


def promptset_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug)
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
    team, membership = team_for(request, slug)
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
                form_error(form, exc)
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


def model_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One model: the runs that made it (what each trained on, lineage one click away),
    the runs that used it, and for a judge its calibrations on gold sets over time."""
    from labelling import charts as label_charts
    from labelling.stats import wilson_rate

    team, membership = team_for(request, slug)
    entry = selectors.model_get(team=team, pk=pk)
    calibrations = selectors.judge_calibrations(entry)
    chart = None
    if calibrations:
        chart = label_charts.rate_bars(
            [
                (
                    f"#{c.run.pk} {c.run.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
                    wilson_rate(int(c.figures["accuracy"]["k"]), int(c.figures["accuracy"]["n"])),
                )
                for c in calibrations
            ],
            title=f"{entry.name}: accuracy on gold sets (Wilson 95%; dashed: chance)",
            x_title="accuracy against the gold labels",
            y_title="calibration run",
            reference=0.5,
        )
    context = {
        "team": team,
        "membership": membership,
        "entry": entry,
        "lineage": selectors.model_lineage(entry),
        "runs": selectors.model_runs(entry),
        "calibrations": calibrations,
        "calibration_chart": chart,
    }
    return render(request, "training/model_detail.html", context)
