from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def teams(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's teams for the navigation bar (one query, lazily)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .permissions import teams_of

    return {"nav_teams": teams_of(user).order_by("name")}
