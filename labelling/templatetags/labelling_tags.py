"""Number formats of the statistics page, shared with the ``labelstats`` command."""

from __future__ import annotations

import math

from django import template

register = template.Library()


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def fmt_num(value: float | None, digits: int = 3) -> str:
    # statsmodels gives a NaN interval for some degenerate kappa tables.
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def fmt_p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


register.filter("pct", fmt_pct)
register.filter("num", fmt_num)
register.filter("pvalue", fmt_p)
