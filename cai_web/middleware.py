"""Login is required everywhere (Django's ``LoginRequiredMiddleware``), htmx-aware.

Open views say so with ``@login_not_required`` (the login page, the health check;
Django marks its own login views and the admin's login). Static files never get
here: whitenoise answers them before the middleware stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


class HtmxLoginRequiredMiddleware(LoginRequiredMiddleware):
    """``LoginRequiredMiddleware`` that makes htmx reload the page at the login form.

    htmx follows a plain 302 in place and would swap the login page into whatever
    fragment asked (a poll, a form); ``HX-Redirect`` makes it navigate instead, and
    ``next`` is the page the visitor was on, not the fragment's URL.
    """

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[Any, Any],
    ) -> HttpResponseBase | None:
        refused = super().process_view(request, view_func, view_args, view_kwargs)
        htmx = getattr(request, "htmx", None)
        if refused is None or not htmx:
            return refused
        login = redirect_to_login(
            htmx.current_url_abs_path or request.get_full_path(),
            resolve_url(self.get_login_url(view_func)),
            self.get_redirect_field_name(view_func),
        )
        return HttpResponseClientRedirect(login["Location"])


def method_not_allowed_page(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """A 405 with no body (``require_POST`` and friends) becomes the site's 405 page.

    A link to a POST-only URL (an old bookmark, a pasted address) otherwise shows a
    blank page; this one says what the URL is for and where to go instead.
    """
    from django.shortcuts import render

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        if response.status_code == 405 and not getattr(response, "content", b"x"):
            allowed = response.get("Allow", "")
            page = render(
                request,
                "405.html",
                {"allowed": allowed, "method": request.method, "path": request.path},
                status=405,
            )
            page["Allow"] = allowed
            return page
        return response

    return middleware
