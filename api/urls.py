from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, path

from . import views
from .v1 import api


def _api_urls() -> tuple[list[URLResolver | URLPattern], str, str]:
    """ninja's URL patterns, open to LoginRequiredMiddleware: the API authenticates
    each request itself (token or session) and answers 401 as a problem, never a
    redirect to the login page."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        # ninja's URLconf holds only plain patterns, each with its view.
        if isinstance(pattern, URLPattern) and pattern.callback is not None:
            pattern.callback = login_not_required(pattern.callback)
    return patterns, app_name, namespace


urlpatterns = [
    path("api/v1/", _api_urls()),
    path("t/<slug:slug>/settings/api-tokens/", views.token_list, name="api_tokens"),
    path(
        "t/<slug:slug>/settings/api-tokens/<int:pk>/revoke/",
        views.token_revoke,
        name="api_token_revoke",
    ),
]
