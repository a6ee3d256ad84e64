from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from cai_web.templatetags.times import abstime, reltime
from constitutions.diff import word_diff_html

register = template.Library()


@register.simple_tag
def word_diff(before: str | None, after: str | None) -> SafeString:
    """``{% word_diff a b %}``: the project's one word diff, escaped, with <del>/<ins>."""
    return mark_safe(word_diff_html(before, after))


# The time tags live in cai_web (every app's pages show times); these pages load them here.
register.simple_tag(reltime)
register.simple_tag(abstime)


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
