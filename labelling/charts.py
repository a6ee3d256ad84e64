"""The statistics page's charts: its figures (rates with Wilson intervals, calibration
bins) handed to the app's one chart layer (:mod:`cai_web.charts`), which lays out and
escapes every text, titles both axes and adds the data table; plus the confusion
matrix's cell colour."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.safestring import SafeString

from . import stats


def rate_bars(
    rows: Sequence[tuple[str, stats.Rate]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    width: int = 460,
    reference: float | None = None,
) -> SafeString:
    """Horizontal bars of rates in [0, 1] with Wilson 95% whiskers and "k/n" labels;
    ``y_title`` names the rows (the category axis), ``x_title`` the rate."""
    from cai_web.charts import interval_bars

    return interval_bars(
        [
            (
                label,
                rate.rate,
                rate.ci_low,
                rate.ci_high,
                f"{rate.rate:.1%} · {rate.k}/{rate.n}" if rate.rate is not None else "",
            )
            for label, rate in rows
        ],
        title=title,
        x_title=x_title,
        y_title=y_title,
        width=width,
        reference=reference,
    )


def reliability(bins: Sequence[stats.CalibrationBin], *, size: int = 320) -> SafeString:
    """Reliability chart: mean confidence (x) against the human agreement rate (y), with CIs."""
    from cai_web.charts import reliability_chart

    points = [
        (
            b.mean_confidence,
            b.human_agreement_rate,
            (b.ci[0], b.ci[1]) if b.ci else None,
            b.n,
            f"{b.lo:.2f}–{b.hi:.2f}: {b.k}/{b.n} agree",
        )
        for b in bins
        if b.n and b.mean_confidence is not None and b.human_agreement_rate is not None
    ]
    return reliability_chart(
        points, title="Reliability: AI confidence against human agreement", size=size
    )


def heat(count: int, total: int) -> str:
    """An inline background colour for a confusion-matrix cell, darker for larger shares."""
    share = 0.0 if total == 0 else count / total
    alpha = round(0.08 + 0.6 * share, 3) if count else 0
    return f"background: rgba(36, 87, 197, {alpha})"
