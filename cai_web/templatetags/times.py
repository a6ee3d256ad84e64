"""How every page shows a time: with its zone. The server writes UTC, named as such
(right without JavaScript); static/js/app.js shows the viewer's local time with its
zone and keeps UTC on hover.

``{% load times %}`` then ``{% reltime run.created_at %}`` ("3 minutes ago", ticking) or
``{% abstime label_set.decided_at %}`` ("2026-12-01 23:05 UTC", then local).
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

register = template.Library()


def _utc(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value.astimezone(dt.UTC)


@register.simple_tag
def reltime(value: dt.datetime | None, empty: str = "—") -> SafeString | str:
    """ "3 minutes ago" that static/js/app.js keeps ticking.

    The server text is right at render time (and stays so without JavaScript); the
    title always carries the exact time in UTC, and the script adds the viewer's local
    time with its zone.
    """
    if value is None:
        return empty
    now = timezone.now()
    text = f"{timesince(value, now)} ago" if value <= now else f"in {timeuntil(value, now)}"
    utc = _utc(value)
    return format_html(
        '<time datetime="{}" data-relative title="{}">{}</time>',
        utc.isoformat(timespec="seconds"),
        utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        text,
    )


@register.simple_tag
def abstime(value: dt.datetime | None, empty: str = "—") -> SafeString | str:
    """A point in time: "2026-12-01 23:05 UTC"; the script shows it in the viewer's
    zone ("1 Dec 2026, 15:05 PST") and keeps the UTC time as the title."""
    if value is None:
        return empty
    utc = _utc(value)
    return format_html(
        '<time datetime="{}" data-local title="{}">{}</time>',
        utc.isoformat(timespec="seconds"),
        utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        utc.strftime("%Y-%m-%d %H:%M UTC"),
    )
