"""Login throttling (django-axes): the page a locked-out login gets, and who is locked out.

Axes counts wrong passwords per (username, client address) pair
(``AXES_LOCKOUT_PARAMETERS`` in settings) and refuses the pair for
``AXES_COOLOFF_TIME`` once ``AXES_FAILURE_LIMIT`` is reached. A try during the lockout
restarts the cool-off, so ``Retry-After`` is the whole cool-off, counted from now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429 with ``Retry-After`` and a page that says how long to wait (AXES_LOCKOUT_CALLABLE)."""
    cool_off = get_cool_off(request) or timedelta(0)
    seconds = max(1, int(cool_off.total_seconds()))
    response = render(
        request,
        "registration/locked_out.html",
        {
            "failure_limit": get_failure_limit(request, credentials),
            "retry_after": seconds,
            "retry_at": timezone.now() + timedelta(seconds=seconds),
        },
        # axes.conf fills in its defaults on the settings object at import.
        status=getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429),
    )
    response["Retry-After"] = str(seconds)
    return response


@dataclass(frozen=True)
class Lockout:
    """A member locked out of logging in from one or more addresses."""

    username: str
    addresses: int
    failures: int
    until: datetime


def lockouts_for(usernames: list[str]) -> dict[str, Lockout]:
    """The usernames among ``usernames`` locked out now from at least one address."""
    cool_off = get_cool_off() or timedelta(0)
    since = timezone.now() - cool_off
    rows = (
        AccessAttempt.objects.filter(username__in=usernames, attempt_time__gte=since)
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
    )
    found: dict[str, Lockout] = {}
    for row in rows:
        name = row["username"]
        until = row["last"] + cool_off
        before = found.get(name)
        found[name] = Lockout(
            username=name,
            addresses=(before.addresses if before else 0) + 1,
            failures=(before.failures if before else 0) + row["failures"],
            until=max(until, before.until) if before else until,
        )
    return found


def lockout_clear(*, username: str) -> int:
    """Forget every failed attempt at ``username`` (an owner's "Unlock"); the count removed."""
    from axes.utils import reset

    return reset(username=username)


__all__ = ["Lockout", "lockout_clear", "lockout_response", "lockouts_for"]
