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


def _counted(run: Any, done: int, total: int) -> int:
    """A run that succeeded did all of it (a shard's last write may precede its finish)."""
    return total if run.status == "succeeded" and total else done


@register.simple_tag
def run_progress(run: Any) -> str:
    """One line of progress in the unit the run's kind is read in: "step 3 / 8" for a
    trainer, "40 / 64 examples" for critique–revision, "12 / 64 labels" for labelling.

    A kind with a ``count_unit`` counts ``examples_done`` in it; any other counts
    ``done_units`` in its ``progress_unit``. A run that succeeded says how much it
    did; trainers count optimizer steps, "step n / N", never a percentage of examples.
    """
    spec = run.spec
    if spec.count_unit:
        done, total, unit = run.examples_done, run.examples_total, spec.count_unit
    else:
        done, total, unit = run.done_units, run.total_units, spec.progress_unit
    done = _counted(run, done, total)
    if unit == "steps":
        step = (run.result or {}).get("global_step") or done
        return f"step {step:,} / {total:,}" if total else f"step {step:,}"
    return f"{done:,} / {total:,} {unit}" if total else f"{done:,} {unit}"


@register.simple_tag
def run_progress_detail(run: Any) -> str:
    """What the run page adds to :func:`run_progress`: the finer units of a kind counted
    in examples or labels ("96 / 128 steps (a pair sampled or judged)"), else the
    examples where they are a count of their own; "" when there is nothing to add."""
    spec = run.spec
    if spec.count_unit:
        done = _counted(run, run.done_units, run.total_units)
        return f"{done:,} / {run.total_units:,} {spec.progress_unit}" if run.total_units else ""
    if not run.examples_total:
        return ""
    if spec.trains_model:
        return f"on {run.examples_total:,} examples"
    if (run.examples_done, run.examples_total) == (run.done_units, run.total_units):
        return ""
    done = _counted(run, run.examples_done, run.examples_total)
    return f"{done:,} / {run.examples_total:,} examples"
