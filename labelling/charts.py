"""Small server-rendered SVG charts for the statistics page (no JavaScript, no library).

Every function returns a ``SafeString``; every text that goes in is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

from . import stats


def _f(x: float) -> str:
    return f"{x:.1f}"


def rate_bars(
    rows: Sequence[tuple[str, stats.Rate]],
    *,
    title: str,
    width: int = 420,
    reference: float | None = None,
) -> SafeString:
    """Horizontal bars of rates in [0, 1] with Wilson 95% whiskers and "k/n" labels."""
    label_w, right_w, row_h, top = 150, 70, 26, 22
    plot_w = width - label_w - right_w
    height = top + row_h * len(rows) + 22
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        parts.append(
            f'<line x1="{_f(x)}" y1="{top - 4}" x2="{_f(x)}" y2="{height - 18}" stroke="#e3e6ea"/>'
            f'<text x="{_f(x)}" y="{height - 5}" text-anchor="middle">{tick:.0%}</text>'
        )
    if reference is not None:
        x = label_w + reference * plot_w
        parts.append(
            f'<line x1="{_f(x)}" y1="{top - 8}" x2="{_f(x)}" y2="{height - 18}" stroke="#b3261e" stroke-dasharray="4 3"/>'
        )
    for i, (label, rate) in enumerate(rows):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
        )
        if rate.rate is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}">no data (n = 0)</text>')
            continue
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{_f(rate.rate * plot_w)}" height="{row_h - 10}"/>'
        )
        lo, hi = label_w + rate.ci_low * plot_w, label_w + rate.ci_high * plot_w
        mid = y + row_h / 2 - 1
        parts.append(
            f'<path d="M{_f(lo)} {_f(mid)}H{_f(hi)}M{_f(lo)} {_f(mid - 5)}V{_f(mid + 5)}M{_f(hi)} {_f(mid - 5)}V{_f(mid + 5)}" '
            f'stroke="#1d232a" fill="none"/>'
        )
        parts.append(
            f'<text x="{width - right_w + 6}" y="{y + 15}">{rate.rate:.1%} · {rate.k}/{rate.n}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def reliability(bins: Sequence[stats.CalibrationBin], *, size: int = 300) -> SafeString:
    """Reliability chart: mean confidence (x) against the human agreement rate (y), with CIs."""
    pad = 36
    plot = size - 2 * pad

    def px(v: float) -> float:  # x axis spans confidence 0.5..1
        return pad + (v - 0.5) / 0.5 * plot

    def py(v: float) -> float:  # y axis spans 0..1
        return size - pad - v * plot

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        'xmlns="http://www.w3.org/2000/svg"><title>Reliability: AI confidence against human agreement</title>',
        f'<rect x="{pad}" y="{pad}" width="{plot}" height="{plot}" fill="none" stroke="#d9dee3"/>',
        f'<line x1="{_f(px(0.5))}" y1="{_f(py(0.5))}" x2="{_f(px(1))}" y2="{_f(py(1))}" stroke="#9aa4ad" stroke-dasharray="4 3"/>',
    ]
    for v in (0.5, 0.75, 1.0):
        parts.append(
            f'<text x="{_f(px(v))}" y="{size - pad + 14}" text-anchor="middle">{v:.2f}</text>'
        )
    for v in (0, 0.5, 1.0):
        parts.append(f'<text x="{pad - 4}" y="{_f(py(v) + 4)}" text-anchor="end">{v:.0%}</text>')
    parts.append(
        f'<text x="{size / 2}" y="{size - 4}" text-anchor="middle">AI confidence max(p, 1−p)</text>'
        f'<text x="10" y="{size / 2}" transform="rotate(-90 10 {size / 2})" text-anchor="middle">human agrees</text>'
    )
    points = []
    for b in bins:
        if not b.n or b.mean_confidence is None or b.human_agreement_rate is None:
            continue
        x, y = px(b.mean_confidence), py(b.human_agreement_rate)
        points.append((x, y))
        if b.ci:
            parts.append(
                f'<line x1="{_f(x)}" y1="{_f(py(b.ci[0]))}" x2="{_f(x)}" y2="{_f(py(b.ci[1]))}" stroke="#1d232a"/>'
            )
        parts.append(
            f'<circle class="bar" cx="{_f(x)}" cy="{_f(y)}" r="{min(9, 3 + b.n**0.33):.1f}">'
            f"<title>{b.lo:.2f}–{b.hi:.2f}: {b.k}/{b.n} agree</title></circle>"
        )
    if len(points) > 1:
        path = "M" + "L".join(f"{_f(x)} {_f(y)}" for x, y in points)
        parts.append(f'<path d="{path}" stroke="#2457c5" fill="none"/>')
    if not points:
        parts.append(
            f'<text x="{size / 2}" y="{size / 2}" text-anchor="middle">no probabilities with a human label</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def heat(count: int, total: int) -> str:
    """An inline background colour for a confusion-matrix cell, darker for larger shares."""
    share = 0.0 if total == 0 else count / total
    alpha = round(0.08 + 0.6 * share, 3) if count else 0
    return f"background: rgba(36, 87, 197, {alpha})"
