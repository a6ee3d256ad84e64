"""The outputs of a critique–revision run: its examples, statistics and exports."""

from __future__ import annotations

import json
import tempfile

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from cai_web.charts import grouped_bar_chart, line_chart
from cai_web.web import render_partial

from .. import exports, selectors
from ..forms import ResultsFilterForm
from .runs import run_for


def run_results(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership, run = run_for(request, slug, pk)
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
    return render_partial(request, "training/run_results.html", "results", context)


def run_stats(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership, run = run_for(request, slug, pk)
    stats = selectors.run_statistics(run)
    rows = stats["principles"]
    usage_chart = grouped_bar_chart(
        [r["key"] for r in rows],
        [
            ("observed", [r["observed"] for r in rows]),
            ("expected", [round(r["expected"], 1) for r in rows]),
        ],
        title="Principle usage: observed draws against the constitution's probabilities",
        x_title="principle",
        y_title="draws (all rounds)",
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
        x_title="answer",
        y_title="mean words",
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
        x_title="answer",
        y_title="refusals (% of answers)",
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


@require_http_methods(["GET", "POST"])
def run_export(request: HttpRequest, slug: str, pk: int, fmt: str) -> HttpResponse:
    """provenance.json and the trl JSONL at once; the datasets zip: GET shows a button,
    POST starts the worker that builds it (progress and download on the job page)."""

    team, _, run = run_for(request, slug, pk)
    if fmt == "provenance.json":
        body = json.dumps(exports.provenance(run), indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-provenance.json"'
        return response
    if fmt == "trl.jsonl":  # one line per example, written as it is read: small enough
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
    if fmt in exports.EXPORT_FORMATS:
        # Big files are built by a worker (a file job), never inside the request.
        if request.method == "POST":
            job = exports.dataset_export_start(run=run, user=request.user, fmt=fmt)
            return redirect("filejob_detail", slug=team.slug, pk=job.pk)
        from labelling.models import FileJob

        return TemplateResponse(
            request,
            "training/run_export.html",
            {
                "team": team,
                "run": run,
                "fmt": fmt,
                "label": exports.EXPORT_FORMATS[fmt],
                "jobs": FileJob.objects.filter(
                    team=team, kind=FileJob.Kind.DATASET_EXPORT, result_id=run.pk
                )[:10],
            },
        )
    raise Http404("Unknown export format.")
