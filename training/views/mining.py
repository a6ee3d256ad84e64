"""The candidates a mining run found, ranked, and the one-click "add to a draft"."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from cai_web.errors import DomainError
from cai_web.models import Capability

from .. import selectors
from ..services.mining import mined_principle_add
from .runs import run_for


def run_candidates(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership, run = run_for(request, slug, pk)
    mined = selectors.mined_principles(run)
    if mined is None:
        raise Http404("This run has mined no principles.")
    context = {
        "team": team,
        "membership": membership,
        "run": run,
        "mined": mined,
        "charts": run.spec.charts(run),
        "can_edit": membership.can(Capability.EDIT_CONSTITUTIONS),
    }
    return TemplateResponse(request, "training/run_candidates.html", context)


@require_POST
def candidate_add(request: HttpRequest, slug: str, pk: int, index: int) -> HttpResponse:
    team, _, run = run_for(request, slug, pk, Capability.EDIT_CONSTITUTIONS)
    try:
        draft, principle = mined_principle_add(run=run, index=index, user=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("run_candidates", slug=team.slug, pk=run.pk)
    messages.success(
        request,
        f"Added {principle.key!r} to draft v{draft.number} of {draft.constitution.name}.",
    )
    return redirect("run_candidates", slug=team.slug, pk=run.pk)
