from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil

from constitutions.diff import word_diff_html

register = template.Library()


@register.simple_tag
def word_diff(before: str | None, after: str | None) -> SafeString:
    """``{% word_diff a b %}``: the project's one word diff, escaped, with <del>/<ins>."""
    return mark_safe(word_diff_html(before, after))


@register.simple_tag
def reltime(value: dt.datetime | None, empty: str = "—") -> SafeString | str:
    """``{% reltime run.created_at %}``: "3 minutes ago" that static/js/app.js keeps ticking.

    The server text is right at render time (and stays so without JavaScript); the
    title always carries the exact time in UTC, and the script adds the viewer's local
    time with its zone.
    """
    if value is None:
        return empty
    now = timezone.now()
    text = f"{timesince(value, now)} ago" if value <= now else f"in {timeuntil(value, now)}"
    utc = value.astimezone(dt.UTC)
    return format_html(
        '<time datetime="{}" data-relative title="{}">{}</time>',
        utc.isoformat(timespec="seconds"),
        utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        text,
    )


@register.filter
def seconds_text(value: Any) -> str:
    """70 → "1 min 10 s", 4000 → "1 h 7 min"; the same words static/js/app.js uses."""
    try:
        s = max(0, round(float(value)))
    except (TypeError, ValueError):
        return ""
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


@register.simple_tag
def countdown(seconds: float | None) -> SafeString | str:
    """An ETA that counts down in the browser between polls (static/js/app.js)."""
    if seconds is None:
        return ""
    return format_html(
        '<span data-countdown="{}">{}</span>', round(float(seconds)), seconds_text(seconds)
    )


@register.simple_tag
def run_progress(run: Any) -> str:
    """One line of progress in the run's own unit: "step 3 / 8", "40 / 64 generations".

    A run that succeeded says how much it did; trainers count optimizer steps, so
    they read "step n / N", never a percentage of examples.
    """
    unit = run.spec.progress_unit
    done, total = run.done_units, run.total_units
    if run.status == "succeeded" and total:
        done = total
    if unit == "steps":
        step = (run.result or {}).get("global_step") or done
        return f"step {step:,} / {total:,}" if total else f"step {step:,}"
    return f"{done:,} / {total:,} {unit}" if total else f"{done:,} {unit}"
