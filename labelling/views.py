"""Label sets, imports, exports, review queues, the review screen and the statistics page.

Every view resolves the team through ``cai_web.web.team_for`` first, so outsiders
get 404 and members without the capability 403, by construction. htmx requests get
the page's partial (``render_partial``); every action is also a plain form that
works without JavaScript. Services' domain errors land on the form through
``form_error``.

Importing this module loads no statistics library: ``stats`` imports scipy and
statsmodels only inside the functions that compute with them.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from cai_web.models import Capability
from cai_web.web import HtmxHttpRequest, form_error, render_partial, team_for

from . import charts, comparisons, selectors, services, stats, uploads
from .forms import (
    AuditSettingsForm,
    ComparisonFilterForm,
    DecisionForm,
    ImportForm,
    QueueForm,
    ReviewForm,
    SampleSizeForm,
    StatsFilterForm,
)
from .models import HumanReview, LabelSet

# ------------------------------------------------------------------------ label sets


@require_GET
def labelset_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug)
    return render(
        request,
        "labelling/labelset_list.html",
        {
            "team": team,
            "membership": membership,
            "label_sets": selectors.labelset_list(team=team),
            "can_import": membership.can(Capability.LAUNCH_RUNS),
            "can_configure": membership.can(Capability.MANAGE_MEMBERS),
        },
    )


@csrf_exempt  # the upload handler must be set before CSRF reads the body; checked below
@require_http_methods(["GET", "POST"])
def labelset_import(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The upload goes straight to disk (``labelling.uploads``) and a worker imports it;
    the browser is sent to the job's page, which shows the progress and any problems."""
    team, membership = team_for(request, slug, Capability.LAUNCH_RUNS)
    if request.method == "POST":
        uploads.stored_uploads(request)
    return _labelset_import(request, team, membership)


@csrf_protect
def _labelset_import(request: HtmxHttpRequest, team, membership) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, team=team)
        if form.is_valid():
            d = form.cleaned_data
            upload = d["file"]
            try:
                job = services.labelset_import_start(
                    team=team,
                    user=request.user,
                    name=d["name"],
                    fmt=d["fmt"],
                    upload_path=str(upload.stored_path),
                    upload_name=upload.name,
                    upload_size=upload.size,
                    judge=d["judge"],
                    dataset_name=d["dataset_name"],
                    principle_version=d["principle_version"],
                    description=d["description"],
                )
            except services.LabellingError as exc:
                form_error(form, exc)
            else:
                upload.close()
                return redirect("filejob_detail", slug=team.slug, pk=job.pk)
        uploads.discard_uploads(request)
        status = 400
    else:
        form = ImportForm(team=team)
    return render(
        request,
        "labelling/labelset_import.html",
        {"team": team, "membership": membership, "form": form},
        status=status,
    )


@require_GET
def filejob_detail(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    """An import's or export's progress (htmx polls the ``job`` partial until it ends)."""
    team, membership = team_for(request, slug)
    job = selectors.filejob_get(team=team, pk=pk)
    return render_partial(
        request,
        "labelling/filejob_detail.html",
        "job",
        {
            "team": team,
            "membership": membership,
            "job": job,
            "result_url": selectors.filejob_result_url(job),
            "more_problems": max(0, job.problem_count - len(job.problems)),
            "can_cancel": job.created_by_id == request.user.pk
            or membership.can(Capability.MANAGE_MEMBERS),
        },
        stop_polling=not job.is_active,
    )


@require_POST
def filejob_cancel(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug)
    job = selectors.filejob_get(team=team, pk=pk)
    if job.created_by_id != request.user.pk and not membership.can(Capability.MANAGE_MEMBERS):
        return HttpResponse("Only who started the job or an owner may cancel it.", status=403)
    try:
        services.filejob_cancel(job=job)
        messages.success(request, "Cancelled; nothing of it is kept.")
    except services.LabellingError as exc:
        messages.error(request, str(exc))
    return redirect("filejob_detail", slug=team.slug, pk=pk)


@require_GET
def filejob_download(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _ = team_for(request, slug)
    job = selectors.filejob_get(team=team, pk=pk)
    if job.status != job.Status.DONE or not job.artifact_path:
        return HttpResponse("This file is not ready.", status=404, content_type="text/plain")
    path = Path(job.artifact_path)
    if not path.is_file():
        return HttpResponse("This file is gone.", status=404, content_type="text/plain")
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.artifact_name)


@require_GET
def labelset_detail(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    """The set, its approval, its queues and a filterable, keyset-paged table of its
    comparisons (htmx swaps only the ``comparisons`` partial when a filter changes)."""
    team, membership = team_for(request, slug)
    label_set = selectors.labelset_get(team=team, pk=pk)
    filter_form = ComparisonFilterForm(
        request.GET or None, options=comparisons.comparison_filter_options(label_set)
    )
    status = 200
    if filter_form.is_bound and not filter_form.is_valid():
        status = 400
        table_filters = comparisons.ComparisonFilters()
        after = before = None
    else:
        data = filter_form.cleaned_data if filter_form.is_bound else {}
        table_filters = (
            filter_form.filters() if filter_form.is_bound else comparisons.ComparisonFilters()
        )
        after, before = data.get("after"), data.get("before")
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    context = {
        "team": team,
        "membership": membership,
        "label_set": label_set,
        "filter_form": filter_form,
        "table_filters": table_filters,
        "page": comparisons.comparison_page(label_set, table_filters, after=after, before=before),
        "query": query.urlencode(),
    }
    if not request.htmx:
        context.update(
            {
                "gate": services.labelset_approval_gate(label_set=label_set),
                "queues": selectors.queue_list(label_set),
                "overrides": label_set.overrides.select_related("user")[:10],
                "decisions": label_set.decisions.select_related("user")[:20],
                "can_review": membership.can(Capability.REVIEW_LABELS),
                "can_approve": membership.can(Capability.APPROVE_LABELS),
                "decision_form": DecisionForm(),
            }
        )
    return render_partial(
        request, "labelling/labelset_detail.html", "comparisons", context, status=status
    )


@require_GET
def comparison_detail(request: HtmxHttpRequest, slug: str, pk: int, cid: int) -> HttpResponse:
    """One comparison, read-only: both orders' verdicts and probabilities, every human label."""
    team, membership = team_for(request, slug)
    label_set = selectors.labelset_get(team=team, pk=pk)
    detail = comparisons.comparison_get(label_set=label_set, pk=cid)
    return render(
        request,
        "labelling/comparison_detail.html",
        {
            "team": team,
            "membership": membership,
            "label_set": label_set,
            "c": detail.comparison,
            "labels": detail.labels,
            "humans": detail.humans,
            "reviews": detail.reviews,
            "back": request.GET.get("back", ""),
        },
    )


@require_POST
def labelset_decide(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _ = team_for(request, slug, Capability.APPROVE_LABELS)
    label_set = selectors.labelset_get(team=team, pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve, reject or reopen.")
        return redirect("labelset_detail", slug=team.slug, pk=pk)
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
    try:
        if action == "approve":
            services.labelset_approve(label_set=label_set, user=request.user, reason=reason)
            messages.success(request, f"{label_set.name} is approved.")
        elif action == "reopen":
            services.labelset_reopen(label_set=label_set, user=request.user, reason=reason)
            messages.success(request, f"{label_set.name} is open again.")
        else:
            services.labelset_reject(label_set=label_set, user=request.user, reason=reason)
            messages.success(request, f"{label_set.name} is rejected.")
    except services.LabellingError as exc:
        messages.error(request, str(exc))
    return redirect("labelset_detail", slug=team.slug, pk=pk)


@require_http_methods(["GET", "POST"])
def labelset_export(request: HtmxHttpRequest, slug: str, pk: int, fmt: str) -> HttpResponse:
    """GET: a page with a button; POST: a worker builds the file (progress on the job page)."""
    team, membership = team_for(request, slug)
    label_set = selectors.labelset_get(team=team, pk=pk)
    if fmt not in services.EXPORT_FORMATS:
        return HttpResponse("Export as .jsonl or .csv.", status=404, content_type="text/plain")
    if request.method == "POST":
        job = services.labelset_export_start(label_set=label_set, user=request.user, fmt=fmt)
        return redirect("filejob_detail", slug=team.slug, pk=job.pk)
    return render(
        request,
        "labelling/labelset_export.html",
        {
            "team": team,
            "membership": membership,
            "label_set": label_set,
            "fmt": fmt,
            "jobs": selectors.filejob_list(team=team, kind="label_export", result_id=label_set.pk)[
                :10
            ],
        },
    )


@require_http_methods(["GET", "POST"])
def audit_settings(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug, Capability.MANAGE_MEMBERS)
    if request.method == "POST":
        form = AuditSettingsForm(request.POST, instance=team)
        if form.is_valid():
            try:
                services.team_audit_settings_update(
                    team=team,
                    min_audit_agreement=form.cleaned_data["min_audit_agreement"],
                    min_audit_reviews=form.cleaned_data["min_audit_reviews"],
                    confirm_inconsistent_above=form.cleaned_data["confirm_inconsistent_above"],
                )
            except services.LabellingError as exc:
                form_error(form, exc)
            else:
                messages.success(request, "Approval gate saved.")
                return redirect("labelset_list", slug=team.slug)
    else:
        form = AuditSettingsForm(instance=team)
    return render(
        request, "labelling/settings.html", {"team": team, "membership": membership, "form": form}
    )


# ------------------------------------------------------------------------ statistics


@require_GET
def labelset_stats(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug)
    label_set = selectors.labelset_get(team=team, pk=pk)
    options = selectors.slice_options(label_set)
    form = StatsFilterForm(request.GET or None, options=options)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    filters = selectors.Filters(
        judge=data.get("judge", ""),
        principle=data.get("principle", ""),
        category=data.get("category", ""),
    )
    s = selectors.labelset_statistics(
        label_set, filters, by=data.get("by", ""), combined=bool(data.get("combined"))
    )
    gate = services.labelset_approval_gate(label_set=label_set, audit=s.audit)
    pb = s.position_bias
    bars = []
    for ref in s.references:
        a = s.agreements_by_reference[ref]["debiased"]
        if a.n_human:
            bars.append((f"vs {ref}, debiased", a.percent))
    if s.audit.agreement.n_human:
        bars.append(("audit gate (per review)", s.audit.agreement.percent))
    references = [
        {
            "key": ref,
            "name": selectors.REFERENCE_NAMES[ref],
            "agreements": s.agreements_by_reference[ref],
            "accuracy": s.accuracy_by_reference[ref],
            "debiased": s.agreements_by_reference[ref]["debiased"],
            "rows": [
                (name, s.agreements_by_reference[ref][name]) for name in ("ab", "ba", "debiased")
            ],
            "table": _table_rows(s.agreements_by_reference[ref]["debiased"]),
            "calibration": s.calibration_by_reference[ref],
            "calibration_n": sum(b.n for b in s.calibration_by_reference[ref]),
            "reliability_chart": charts.reliability(s.calibration_by_reference[ref]),
        }
        for ref in s.references
    ]
    context = {
        "team": team,
        "membership": membership,
        "label_set": label_set,
        "form": form,
        "s": s,
        "gate": gate,
        "references": references,
        "combined_rule": services.COMBINED_RULE,
        "can_review": membership.can(Capability.REVIEW_LABELS),
        "bias_chart": charts.rate_bars(
            [
                ("consistent", pb.consistency),
                ("biased to first", pb.biased_first),
                ("biased to second", pb.biased_second),
                ("no verdict", pb.error),
            ],
            title="Position bias (Zheng et al. 2023)",
            x_title="share of pairs judged in both orders",
            y_title="outcome",
        ),
        "agreement_chart": charts.rate_bars(
            bars,
            title="AI–human agreement",
            x_title="agreement with the human labels",
            y_title="compared with",
            reference=gate.min_agreement,
        )
        if bars
        else "",
        "auditor_table": _rater_rows(s.auditor_vs_gold.overall) if s.auditor_vs_gold else [],
    }
    return render_partial(request, "labelling/labelset_stats.html", "stats", context)


def _table_rows(a: stats.Agreement) -> list[tuple[str, list[tuple[int, str]], int]]:
    """The AI x human table (rows a, b, tie, no verdict; columns a, b, tie, both_bad)."""
    total = a.n_human
    names = {"none": "no verdict"}
    return [
        (names.get(label, label), [(c, charts.heat(c, total)) for c in row], sum(row))
        for label, row in zip(a.table_rows, a.table, strict=True)
    ]


def _rater_rows(r: stats.RaterAgreement) -> list[tuple[str, list[tuple[int, str]], int]]:
    total = sum(sum(row) for row in r.table)
    names = {"both_bad": "both unacceptable"}
    return [
        (names.get(label, label), [(c, charts.heat(c, total)) for c in row], sum(row))
        for label, row in zip(r.labels, r.table, strict=True)
    ]


# ---------------------------------------------------------------------------- queues


@require_http_methods(["GET", "POST"])
def queue_create(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug, Capability.REVIEW_LABELS)
    label_set = selectors.labelset_get(team=team, pk=pk)
    status = 200
    if request.method == "POST":
        form = QueueForm(request.POST)
        if form.is_valid():
            try:
                queue = services.queue_create(
                    label_set=label_set,
                    user=request.user,
                    strategy=form.cleaned_data["strategy"],
                    sample_size=form.cleaned_data["sample_size"],
                    seed=form.cleaned_data["seed"],
                )
            except services.LabellingError as exc:
                form_error(form, exc)
            else:
                messages.success(
                    request, f"Queue built: {queue.items.count()} item(s), seed {queue.seed}."
                )
                return redirect("queue_detail", slug=team.slug, pk=queue.pk)
        status = 400
    else:
        form = QueueForm()
    calc = SampleSizeForm(request.GET if "halfwidth" in request.GET else None)
    return render(
        request,
        "labelling/queue_create.html",
        {
            "team": team,
            "membership": membership,
            "label_set": label_set,
            "form": form,
            **_sample_size_context(calc, label_set),
        },
        status=status,
    )


def _sample_size_context(calc: SampleSizeForm, label_set: LabelSet) -> dict:
    needed = None
    if not calc.is_bound:
        calc = SampleSizeForm(initial={"halfwidth": 0.05, "confidence": 0.95, "expected": 0.5})
        needed = stats.sample_size_for_halfwidth(
            0.05, 0.5, 0.95, population=label_set.comparison_count or None
        )
    elif calc.is_valid():
        d = calc.cleaned_data
        needed = stats.sample_size_for_halfwidth(
            d["halfwidth"],
            d["expected"],
            d["confidence"],
            population=label_set.comparison_count or None,
        )
    return {"calc": calc, "needed": needed}


@require_GET
def sample_size(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug, Capability.REVIEW_LABELS)
    label_set = selectors.labelset_get(team=team, pk=pk)
    if not request.htmx:
        return redirect(
            reverse("queue_create", args=[team.slug, pk]) + "?" + request.GET.urlencode()
        )
    context = {
        "team": team,
        "label_set": label_set,
        **_sample_size_context(SampleSizeForm(request.GET), label_set),
    }
    return render_partial(request, "labelling/queue_create.html", "calculator", context)


@require_GET
def queue_detail(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug)
    queue = selectors.queue_get(team=team, pk=pk)
    return render(
        request,
        "labelling/queue_detail.html",
        {
            "team": team,
            "membership": membership,
            "queue": queue,
            "label_set": queue.label_set,
            "progress": selectors.queue_progress(queue, request.user),
            "can_review": membership.can(Capability.REVIEW_LABELS),
            "items": selectors.queue_items(queue, request.user),
        },
    )


@require_POST
def queue_rebuild(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, _ = team_for(request, slug, Capability.REVIEW_LABELS)
    queue = selectors.queue_get(team=team, pk=pk)
    services.queue_rebuild(queue=queue)
    messages.success(request, f"Queue rebuilt from seed {queue.seed}.")
    return redirect("queue_detail", slug=team.slug, pk=queue.pk)


# ---------------------------------------------------------------------------- review


@require_GET
def review_next(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug, Capability.REVIEW_LABELS)
    queue = selectors.queue_get(team=team, pk=pk)
    item = selectors.queue_next_item(queue, request.user)
    if item is None:
        url = reverse("queue_detail", args=[team.slug, queue.pk])
        messages.success(request, "You have reviewed every item in this queue.")
        if request.htmx:
            return HttpResponseClientRedirect(url)
        return redirect(url)
    url = reverse("review_item", args=[team.slug, queue.pk, item.position])
    if not request.htmx:
        return redirect(url)
    return push_url(_review_response(request, team, membership, queue, item.position), url)


@require_http_methods(["GET", "POST"])
def review_item(request: HtmxHttpRequest, slug: str, pk: int, position: int) -> HttpResponse:
    team, membership = team_for(request, slug, Capability.REVIEW_LABELS)
    queue = selectors.queue_get(team=team, pk=pk)
    if request.method == "POST":
        item = selectors.queue_item_at(queue, position)
        form = ReviewForm(request.POST)
        if not form.is_valid():
            return _review_response(
                request, team, membership, queue, position, form=form, status=400
            )
        d = form.cleaned_data
        rendered_at = d.get("rendered_at")
        try:
            _, created = services.review_submit(
                queue=queue,
                comparison=item.comparison,
                reviewer=request.user,
                choice=d["choice"],
                flag_harmful=d["flag_harmful"],
                flag_principle_misapplied=d["flag_principle_misapplied"],
                flag_ai_wrong=d["flag_ai_wrong"],
                note=d["note"],
                seconds_spent=None if rendered_at is None else time.time() - rendered_at,
            )
        except services.LabellingError as exc:
            form_error(form, exc)
            return _review_response(
                request, team, membership, queue, position, form=form, status=400
            )
        if not created:
            messages.info(request, "You had already reviewed this item; your first answer stands.")
        if not request.htmx:
            return redirect("review_item", slug=team.slug, pk=queue.pk, position=position)
    return _review_response(request, team, membership, queue, position)


def _review_response(
    request, team, membership, queue, position, *, form=None, status=200
) -> HttpResponse:
    item = selectors.queue_item_at(queue, position)
    c = item.comparison
    order = services.shown_order_for(
        seed=queue.seed, reviewer_id=request.user.pk, comparison_id=c.pk
    )
    left, right = (c.response_a, c.response_b) if order == "ab" else (c.response_b, c.response_a)
    review = HumanReview.objects.filter(comparison=c, reviewer=request.user).first()
    context = {
        "team": team,
        "membership": membership,
        "queue": queue,
        "item": item,
        "comparison": c,
        "left": left,
        "right": right,
        "principle_text": (c.principle.comparison_question or c.principle.critique_request)
        if c.principle
        else "",
        "progress": selectors.queue_progress(queue, request.user),
        "review": review,
        "form": form,
        "rendered_at": f"{time.time():.3f}",
    }
    if review is not None:
        # Revealed only now: the AI's verdicts and probabilities, in canonical a/b.
        context["order"] = order
        context["left_is"], context["right_is"] = ("a", "b") if order == "ab" else ("b", "a")
        labels = list(c.ai_labels.order_by("judge"))
        context["ai_labels"] = [
            {
                "label": lab,
                "disagrees": review.verdict != "both_bad" and lab.final != review.verdict,
            }
            for lab in labels
        ]
    return render_partial(request, "labelling/review_item.html", "item", context, status=status)
