"""Small helpers every view of the project shares (one home each).

* :func:`team_for` — the team of a ``t/<slug>/`` URL and the user's membership:
  outsiders get 404, members without the capability 403.
* :func:`render_partial` — the whole page, or only ``template#partial`` when htmx
  asks, with ``Vary: HX-Request`` so caches keep the two apart.
* :func:`form_error` — a service's :class:`~cai_web.errors.DomainError` shown on the
  form field it names (or on the form when the field is not on it).
* :class:`HtmxHttpRequest` — the request type views annotate with, so ``request.htmx``
  type-checks and ``request.user`` is a signed-in ``User`` (``LoginRequiredMiddleware``
  lets no anonymous request reach a view not marked ``@login_not_required``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling

from .models import Capability, Membership, Team
from .permissions import require_membership

if TYPE_CHECKING:
    from django import forms
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails

    from .errors import DomainError

    class HtmxHttpRequest(HttpRequest):
        htmx: HtmxDetails
        user: User

else:
    HtmxHttpRequest = HttpRequest


def team_for(
    request: HttpRequest, slug: str, capability: str = Capability.VIEW
) -> tuple[Team, Membership]:
    """The URL's team and the user's membership (404 outsider, 403 missing capability)."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team, require_membership(request.user, team, capability)


def render_partial(
    request: HttpRequest,
    template: str,
    partial: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    stop_polling: bool = False,
) -> HttpResponse:
    """``template`` for a normal request, ``template#partial`` for htmx.

    ``stop_polling`` answers htmx with 286 (its "stop polling" status) through
    django-htmx's ``HttpResponseStopPolling``, e.g. once a run is over.
    """
    htmx = bool(getattr(request, "htmx", False))
    name = f"{template}#{partial}" if htmx else template
    response = render(request, name, context, status=status)
    if htmx and stop_polling:
        response.status_code = HttpResponseStopPolling.status_code
    patch_vary_headers(response, ("HX-Request",))
    return response


def form_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Attach a domain error to the form field it names, or to the whole form."""
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, str(exc))


__all__ = ["HtmxHttpRequest", "form_error", "render_partial", "team_for"]
