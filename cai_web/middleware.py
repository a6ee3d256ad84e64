"""Login is required everywhere except the login page, static files and the health check."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

OPEN_PREFIXES = ("/accounts/login/", "/healthz", "/admin/login/")


class LoginRequiredEverywhere:
    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request):
        path = request.path
        if (
            request.user.is_authenticated
            or path.startswith(OPEN_PREFIXES)
            or path.startswith(self.static_prefix)
        ):
            return self.get_response(request)
        if request.headers.get("HX-Request"):
            # htmx follows redirects in place; ask it to reload the whole page instead.
            from django.http import HttpResponse

            response = HttpResponse(status=401)
            response["HX-Redirect"] = settings.LOGIN_URL_PATH
            return response
        return redirect_to_login(request.get_full_path())
