"""Number formats of the statistics page, shared with the ``labelstats`` command."""

from __future__ import annotations

import math

from django import template

from labelling.explanations import explain

register = template.Library()


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def fmt_num(value: float | None, digits: int = 3) -> str:
    # statsmodels gives a NaN interval for some degenerate kappa tables.
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def fmt_p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


KAPPA_INTERVALS = {
    "asymptotic": "asymptotic 95% interval",
    "bootstrap": "bootstrap 95% interval (2,000 seeded resamples)",
    "observed_agreement": "95% interval from the Wilson interval of the observed agreement",
}


def fmt_kappa_ci(k) -> str:
    """A kappa's interval as a reader should see it: bounds, or why there are none."""
    if k is None or k.kappa is None:
        return "undefined"
    if k.ci_low is None or k.ci_high is None:
        if k.interval == "too_few":
            return f"too few to say (n = {k.n})"
        return "no interval (one rater used a single category)"
    return f"[{fmt_num(k.ci_low)}, {fmt_num(k.ci_high)}]"


def kappa_interval_name(k) -> str:
    return KAPPA_INTERVALS.get(getattr(k, "interval", ""), "")


register.simple_tag(explain, name="explain")
register.filter("pct", fmt_pct)
register.filter("kappa_ci", fmt_kappa_ci)
register.filter("kappa_interval", kappa_interval_name)
register.filter("num", fmt_num)
register.filter("pvalue", fmt_p)
