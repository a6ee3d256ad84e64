"""The API tokens settings page of a team: create (shown once) and revoke.

Every member may hold tokens for themselves; an owner also sees and may revoke the
team's other tokens. htmx swaps the ``tokens`` partial; without JavaScript the same
forms post and the page renders (creation) or redirects (revocation).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from cai_web.models import Capability
from cai_web.web import HtmxHttpRequest, form_error, render_partial, team_for

from . import selectors, services
from .forms import TokenCreateForm
from .models import ApiToken

PAGE = "api/tokens.html"


def _context(request: HtmxHttpRequest, team: Any, membership: Any, **extra: Any) -> dict[str, Any]:
    return {
        "team": team,
        "membership": membership,
        "tokens": selectors.tokens_for(membership=membership),
        "can_manage": membership.can(Capability.MANAGE_MEMBERS),
        "api_root": request.build_absolute_uri("/api/v1/"),
        **extra,
    }


@require_http_methods(["GET", "POST"])
def token_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team, membership = team_for(request, slug)
    form = TokenCreateForm(request.POST or None)
    created = raw = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created, raw = services.token_create(
                    user=request.user, team=team, name=form.cleaned_data["name"]
                )
            except services.TokenError as exc:
                form_error(form, exc)
                status = 400
            else:
                status = 201
                form = TokenCreateForm()
        else:
            status = 400
    context = _context(request, team, membership, form=form, created=created, raw_token=raw)
    # htmx swaps only 2xx answers (its default); a refused form is still shown in place.
    response = render_partial(
        request, PAGE, "tokens", context, status=200 if request.htmx else status
    )
    if raw:
        add_never_cache_headers(response)  # the token is in this page, and only here
    return response


@require_POST
def token_revoke(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    team, membership = team_for(request, slug)
    token = get_object_or_404(
        selectors.tokens_for(membership=membership), pk=pk
    )  # another member's token is not even visible to a non-owner: 404
    error = ""
    try:
        services.token_revoke(token=token, user=request.user)
    except services.TokenError as exc:
        error = str(exc)
    if request.htmx:
        context = _context(request, team, membership, form=TokenCreateForm(), revoke_error=error)
        return render_partial(request, PAGE, "tokens", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Revoked {token.name}.")
    return redirect("api_tokens", slug=team.slug)


__all__ = ["ApiToken", "token_list", "token_revoke"]
