"""Who is asking: a personal API token (``Authorization: Bearer cai_…``) or the browser's
session, and what they may see.

A token request skips CSRF (no cookie is involved, so no other site can forge it);
a session request that changes something must carry the CSRF token like any form.
A token acts inside its own team only: any other team is as unknown to it as to an
outsider (404), whatever else its user may belong to. Roles and capabilities are the
browser's: ``cai_web.web.team_for`` decides 404 versus 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from cai_web.models import Capability, Membership, Team
from cai_web.web import team_for

from .models import ApiToken
from .services import token_use


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests for this token; retry in {retry_after} s.")
        self.retry_after = retry_after


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``; counts the request against the token's limit."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        use = token_use(token.strip())
        if use.token is None:
            return None
        if use.retry_after:
            raise RateLimited(use.retry_after)
        request.user = use.token.user
        request.api_token = use.token  # type: ignore[attr-defined]
        return use.token


class BrowserSession(APIKeyCookie):
    """The signed-in browser session; unsafe methods need the CSRF token.

    Unlike ninja's ``SessionAuth`` the CSRF check runs only for a signed-in session,
    so an anonymous request is told to authenticate (401), not that CSRF failed.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if key and request.user.is_authenticated and check_csrf(request):
            raise HttpError(403, "CSRF check failed: send the csrftoken as X-CSRFToken.")
        return key

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return request.user if request.user.is_authenticated else None


AUTH = [TokenAuth(), BrowserSession()]


def request_token(request: HttpRequest) -> ApiToken | None:
    return getattr(request, "api_token", None)


def team_access(
    request: HttpRequest, slug: str, capability: str = Capability.VIEW
) -> tuple[Team, Membership]:
    """The URL's team and the caller's membership: 404 outside, 403 without the capability."""
    token = request_token(request)
    if token is not None and token.team.slug != slug:
        raise Http404("No such team.")
    return team_for(request, slug, capability)


__all__ = ["AUTH", "BrowserSession", "RateLimited", "TokenAuth", "request_token", "team_access"]
