"""The app's one chart layer: server-rendered SVG that static/js/charts.js makes interactive.

Every function takes plain lists and returns a ``SafeString`` holding one ``<svg>``
element in one style (palette, font, grid, legend, axis titles): it reads as an
image with a caption (``<title>``, ``aria-label``), looks right without the app's
stylesheet or JavaScript, and escapes every label. The same SVG carries its data as
JSON (``data-chart``) so the script adds, in the browser, hover values for every
series at the pointer, a legend that hides and shows series, and (step charts) drag
to zoom, double-click to reset. Any app uses them::

    from training.charts import bar_chart, grouped_bar_chart, line_chart, step_chart
    svg = grouped_bar_chart(["a", "b"], [("observed", [3, 5]), ("expected", [4, 4])])

Why our own SVG and not a vendored library: the charts must read without JavaScript
(house style: every page works without it) and the pages are htmx fragments swapped
every 2 s; a server SVG is both, and the script only enhances what is already drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Distinct hues first (observed and expected must never look alike), then the rest.
PALETTE = ("#2457c5", "#d97706", "#0f766e", "#b3261e", "#6b21a8", "#64748b")
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
GRID, AXIS_TEXT, TEXT = "#e5e7eb", "#5f6b76", "#1d232a"
CHAR_W = 6.2  # average width of an 11 px character, to lay out legends and margins


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    return _ticks(0.0, top, count)


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round ticks covering [low, high]; the same rule as ``ticks`` in static/js/charts.js."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step + 1e-9) * step
    ticks = [round(start, 10)]
    while ticks[-1] < high - 1e-12:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _int_ticks(low: int, high: int, count: int = 6) -> list[int]:
    """Whole-number ticks from ``low`` to ``high`` (both labelled), at a round step."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = max(1, int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw)))
    ticks = list(range(low - low % step + (step if low % step else 0), high + 1, step))
    if not ticks or ticks[0] != low:
        ticks.insert(0, low)
    if ticks[-1] != high:
        if high - ticks[-1] < step * 0.4:
            ticks.pop()
        ticks.append(high)
    if len(ticks) > 2 and ticks[1] - ticks[0] < step * 0.4:
        ticks.pop(1)
    return ticks


def _fmt(value: float, fmt: str) -> str:
    return fmt.format(value)


def _frame(
    width: int, height: int, title: str, body: list[str], data: dict[str, Any] | None
) -> SafeString:
    """The one ``<svg>`` wrapper. ``data`` None: no series for the script, which then
    shows each mark's own ``<title>`` on hover."""
    label = escape(title)
    spec = (
        f' data-chart="{escape(json.dumps(data, separators=(",", ":"), allow_nan=False))}"'
        if data is not None
        else ""
    )
    return mark_safe(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" aria-label="{label}" '
        f'font-family="{FONT}" font-size="11"{spec}>'
        f"<title>{label}</title>" + "".join(body) + "</svg>"
    )


def text_width(text: str, size: float = 11) -> float:
    """The estimated width of ``text`` at ``size`` px, what every layout here reserves."""
    return CHAR_W * size / 11 * len(text)


def _legend(names: Sequence[str], *, x: float, y: float) -> list[str]:
    """One swatch and name per series, in a row (clickable in the browser)."""
    body, offset = ['<g class="legend">'], 0.0
    for i, name in enumerate(names):
        body.append(
            f'<g class="legend-item" data-series="{i}">'
            f'<rect x="{x + offset:.1f}" y="{y - 9}" width="10" height="10" rx="2" fill="{color(i)}"/>'
            f'<text x="{x + offset + 14:.1f}" y="{y}" fill="{TEXT}">{escape(name)}</text></g>'
        )
        offset += 26 + CHAR_W * len(name)
    body.append("</g>")
    return body


def _y_axis(ticks: Sequence[float], y_of: Any, *, left: float, right: float, fmt: str) -> list[str]:
    body = ['<g class="y-axis">']
    for tick in ticks:
        y = y_of(tick)
        body.append(
            f'<line x1="{left}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS_TEXT}">'
            f"{escape(_fmt(tick, fmt))}</text>"
        )
    body.append("</g>")
    return body


def _axis_titles(
    x_title: str,
    y_title: str,
    *,
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    height: int,
) -> list[str]:
    body = []
    if x_title:
        body.append(
            f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 4}" '
            f'text-anchor="middle" fill="{AXIS_TEXT}">{escape(x_title)}</text>'
        )
    if y_title:
        cy = top + plot_h / 2
        body.append(
            f'<text class="axis-title" x="12" y="{cy:.1f}" transform="rotate(-90 12 {cy:.1f})" '
            f'text-anchor="middle" fill="{AXIS_TEXT}">{escape(y_title)}</text>'
        )
    return body


def _y_margin(ticks: Sequence[float], fmt: str, y_title: str) -> int:
    widest = max(len(_fmt(t, fmt)) for t in ticks)
    return int(12 + CHAR_W * widest + (18 if y_title else 0))


def _x_labels(labels: Sequence[str], centers: Sequence[float], y: float, rotate: bool) -> list[str]:
    body = ['<g class="x-axis">']
    for label, cx in zip(labels, centers, strict=True):
        text = escape(label if len(label) <= 22 else label[:21] + "…")
        if rotate:
            body.append(
                f'<text transform="translate({cx:.1f},{y}) rotate(-35)" text-anchor="end" '
                f'fill="{TEXT}"><title>{escape(label)}</title>{text}</text>'
            )
        else:
            body.append(
                f'<text x="{cx:.1f}" y="{y}" text-anchor="middle" fill="{TEXT}">{text}</text>'
            )
    body.append("</g>")
    return body


def grouped_bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str = "",
    width: int = 640,
    height: int = 260,
    value_format: str = "{:g}",
    show_values: bool = True,
    x_title: str = "",
    y_title: str = "",
) -> SafeString:
    """Bars for each label, one per series side by side, with a legend."""
    labels = [str(label) for label in labels]
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    rotate = any(len(label) > 10 for label in labels) and len(labels) > 3
    peak = max((float(v) for _, values in series for v in values), default=0.0)
    ticks = nice_ticks(peak)
    left, right, top = _y_margin(ticks, value_format, y_title), 16, 30
    bottom = (78 if rotate else 30) + (16 if x_title else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = ticks[-1] or 1.0

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * max(0.0, value) / top_value

    body = _y_axis(ticks, y_of, left=left, right=left + plot_w, fmt=value_format)
    group_w = plot_w / max(1, len(labels))
    bar_w = group_w * 0.8 / max(1, len(series))
    centers = [left + (i + 0.5) * group_w for i in range(len(labels))]
    for s, (name, values) in enumerate(series):
        body.append(f'<g class="series" data-series="{s}">')
        for i, raw in enumerate(values):
            value = float(raw)
            x = left + i * group_w + group_w * 0.1 + s * bar_w
            y = y_of(value)
            tip = escape(f"{labels[i]} · {name}: {_fmt(value, value_format)}")
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{top + plot_h - y:.1f}" fill="{color(s)}"><title>{tip}</title></rect>'
            )
            text = _fmt(value, value_format)
            if show_values and bar_w >= CHAR_W * len(text) * 0.85:
                body.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{max(y - 3, top - 2):.1f}" '
                    f'text-anchor="middle" fill="{TEXT}" font-size="10">{escape(text)}</text>'
                )
        body.append("</g>")
    body += _x_labels(labels, centers, top + plot_h + 14, rotate)
    body += _legend([name for name, _ in series], x=left, y=14)
    body += _axis_titles(
        x_title, y_title, left=left, top=top, plot_w=plot_w, plot_h=plot_h, height=height
    )
    data = {
        "type": "category",
        "labels": labels,
        "xs": [round(c, 1) for c in centers],
        "plot": [left, top, plot_w, plot_h],
        "format": value_format,
        "series": [{"name": n, "values": [float(v) for v in vs]} for n, vs in series],
    }
    return _frame(width, height, title, body, data)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    width: int = 640,
    height: int = 240,
    value_format: str = "{:g}",
) -> SafeString:
    """One bar per label."""
    return grouped_bar_chart(
        labels,
        [(title or "value", values)],
        title=title,
        width=width,
        height=height,
        value_format=value_format,
    )


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str = "",
    width: int = 640,
    height: int = 240,
    value_format: str = "{:g}",
    y_max: float | None = None,
    x_title: str = "",
    y_title: str = "",
) -> SafeString:
    """One line per series over the same x labels; ``None`` values leave a gap."""
    x_labels = [str(label) for label in x_labels]
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x_labels)} labels")
    peak = max((float(v) for _, values in series for v in values if v is not None), default=0.0)
    ticks = nice_ticks(y_max if y_max is not None else peak)
    left, right, top = _y_margin(ticks, value_format, y_title), 24, 30
    bottom = 30 + (16 if x_title else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = ticks[-1] or 1.0

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    body = _y_axis(ticks, y_of, left=left, right=left + plot_w, fmt=value_format)
    n = len(x_labels)
    xs = [left + (plot_w * (i + 0.5) / max(1, n)) for i in range(n)]
    for s, (name, values) in enumerate(series):
        body.append(f'<g class="series" data-series="{s}">')
        segments: list[list[tuple[float, float, float]]] = [[]]
        for x, value in zip(xs, values, strict=True):
            if value is None:
                segments.append([])
                continue
            segments[-1].append((x, y_of(float(value)), float(value)))
        for segment in segments:
            if len(segment) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in segment)
                body.append(
                    f'<polyline points="{points}" fill="none" stroke="{color(s)}" stroke-width="2"/>'
                )
            for x, y, value in segment:
                text = escape(_fmt(value, value_format))
                body.append(
                    f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color(s)}">'
                    f"<title>{escape(name)}: {text}</title></circle>"
                    f'<text x="{x:.1f}" y="{max(y - 7, top - 2):.1f}" text-anchor="middle" '
                    f'fill="{TEXT}" font-size="10">{text}</text>'
                )
        body.append("</g>")
    body += _x_labels(x_labels, xs, top + plot_h + 16, rotate=False)
    body += _legend([name for name, _ in series], x=left, y=14)
    body += _axis_titles(
        x_title, y_title, left=left, top=top, plot_w=plot_w, plot_h=plot_h, height=height
    )
    data = {
        "type": "category",
        "labels": x_labels,
        "xs": [round(x, 1) for x in xs],
        "plot": [left, top, plot_w, plot_h],
        "format": value_format,
        "series": [
            {"name": n, "values": [None if v is None else float(v) for v in vs]} for n, vs in series
        ],
    }
    return _frame(width, height, title, body, data)


# --- rates with intervals, reliability -------------------------------------------------


def interval_bars(
    rows: Sequence[tuple[str, float | None, float, float, str]],
    *,
    title: str,
    width: int = 460,
    reference: float | None = None,
) -> SafeString:
    """Horizontal bars of rates in [0, 1] with their interval as whiskers.

    ``rows``: (label, rate or None for no data, interval low, interval high, the value
    text printed right of the plot, e.g. "62.5% · 5/8"). The label column and the value
    column are as wide as their longest text, so no text leaves the picture.
    """
    row_h, top, bottom, gap = 26, 14, 24, 8
    longest = max((len(label) for label, *_ in rows), default=0)
    label_chars = min(longest, 28)
    label_w = gap + text_width("m" * label_chars)
    right_w = gap + max((text_width(text) for *_, text in rows), default=0.0) + 4
    plot_w = max(160.0, width - label_w - right_w)
    width = int(math.ceil(label_w + plot_w + right_w))
    height = top + row_h * len(rows) + bottom
    body = ['<g class="x-axis">']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - bottom + 4}" '
            f'stroke="{GRID}"/><text x="{x:.1f}" y="{height - 8}" text-anchor="middle" '
            f'fill="{AXIS_TEXT}">{tick:.0%}</text>'
        )
    body.append("</g>")
    if reference is not None:
        x = label_w + reference * plot_w
        body.append(
            f'<line class="reference" x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" '
            f'y2="{height - bottom + 4}" stroke="{PALETTE[3]}" stroke-dasharray="4 3"/>'
        )
    for i, (label, rate, low, high, text) in enumerate(rows):
        y = top + i * row_h
        shown = label if len(label) <= label_chars else label[: label_chars - 1] + "…"
        body.append(
            f'<text x="{label_w - gap:.1f}" y="{y + 15}" text-anchor="end" fill="{TEXT}">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
        )
        if rate is None:
            body.append(
                f'<text x="{label_w + 4:.1f}" y="{y + 15}" fill="{AXIS_TEXT}">no data (n = 0)</text>'
            )
            continue
        lo, hi, mid = label_w + low * plot_w, label_w + high * plot_w, y + row_h / 2 - 1
        body.append(
            f'<rect class="bar" x="{label_w:.1f}" y="{y + 4}" width="{rate * plot_w:.1f}" '
            f'height="{row_h - 10}" fill="{color(0)}"><title>{escape(label)}: '
            f"{escape(text)} (interval {low:.1%}–{high:.1%})</title></rect>"
            f'<path d="M{lo:.1f} {mid:.1f}H{hi:.1f}M{lo:.1f} {mid - 5:.1f}V{mid + 5:.1f}'
            f'M{hi:.1f} {mid - 5:.1f}V{mid + 5:.1f}" stroke="{TEXT}" fill="none"/>'
            f'<text x="{label_w + plot_w + gap:.1f}" y="{y + 15}" fill="{TEXT}">'
            f"{escape(text)}</text>"
        )
    return _frame(width, height, title, body, None)


def reliability_chart(
    points: Sequence[tuple[float, float, tuple[float, float] | None, int, str]],
    *,
    title: str,
    x_min: float = 0.5,
    x_title: str = "AI confidence max(p, 1−p)",
    y_title: str = "human agrees",
    size: int = 320,
    empty: str = "no probabilities with a human label",
) -> SafeString:
    """Mean confidence (x, from ``x_min`` to 1) against an observed rate (y, 0 to 1),
    with each point's interval, the diagonal of perfect calibration, and both axes
    titled clear of their ticks. ``points``: (x, y, interval or None, n, hover text)."""
    y_ticks = [0.0, 0.5, 1.0]
    left = int(_y_margin(y_ticks, "{:.0%}", y_title))
    right, top, bottom = 16, 12, 30 + 16
    plot = size - left - right
    height = top + plot + bottom

    def px(v: float) -> float:
        return left + (v - x_min) / (1 - x_min) * plot

    def py(v: float) -> float:
        return top + plot - v * plot

    body = [
        f'<rect x="{left}" y="{top}" width="{plot}" height="{plot}" fill="none" stroke="{GRID}"/>',
        f'<line x1="{px(x_min):.1f}" y1="{py(x_min):.1f}" x2="{px(1):.1f}" y2="{py(1):.1f}" '
        f'stroke="{AXIS_TEXT}" stroke-dasharray="4 3"/>',
    ]
    body += _y_axis(y_ticks, py, left=left, right=left + plot, fmt="{:.0%}")
    body.append('<g class="x-axis">')
    for v in _ticks(x_min, 1.0, 2):
        if x_min - 1e-9 <= v <= 1 + 1e-9:
            body.append(
                f'<text x="{px(v):.1f}" y="{top + plot + 14}" text-anchor="middle" '
                f'fill="{AXIS_TEXT}">{v:.2f}</text>'
            )
    body.append("</g>")
    body += _axis_titles(
        x_title, y_title, left=left, top=top, plot_w=plot, plot_h=plot, height=height
    )
    drawn = []
    for x_value, y_value, interval, n, tip in points:
        x, y = px(x_value), py(y_value)
        drawn.append((x, y))
        if interval:
            body.append(
                f'<line x1="{x:.1f}" y1="{py(interval[0]):.1f}" x2="{x:.1f}" '
                f'y2="{py(interval[1]):.1f}" stroke="{TEXT}"/>'
            )
        body.append(
            f'<circle class="bar" cx="{x:.1f}" cy="{y:.1f}" r="{min(9, 3 + n**0.33):.1f}" '
            f'fill="{color(0)}"><title>{escape(tip)}</title></circle>'
        )
    if len(drawn) > 1:
        path = "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in drawn)
        body.append(f'<path d="{path}" stroke="{color(0)}" fill="none"/>')
    if not drawn:
        body.append(
            f'<text x="{left + plot / 2:.1f}" y="{top + plot / 2:.1f}" text-anchor="middle" '
            f'fill="{AXIS_TEXT}">{escape(empty)}</text>'
        )
    return _frame(size, height, title, body, None)


# --- metrics over optimizer steps (negative values allowed) -----------------------------

MAX_POINTS = 120


def step_chart(
    series: Sequence[tuple[str, Sequence[tuple[int, float]]]],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    y_title: str = "",
) -> SafeString:
    """Lines of (step, value) points on a shared step axis, y scaled to the data.

    The step axis is labelled at round steps from the first to the last; the browser
    script redraws the same groups (``y-axis``, ``x-axis``, ``series``) when zoomed.
    """
    points = [(s, v) for _, values in series for s, v in values]
    steps = [s for s, _ in points] or [0, 1]
    values = [v for _, v in points] or [0.0, 1.0]
    ticks = _ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    s0, s1 = min(steps), max(steps)
    fmt = "{:.4g}"
    left, right, top, bottom = _y_margin(ticks, fmt, y_title), 24, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(step: float) -> float:
        return left + (plot_w * (step - s0) / (s1 - s0) if s1 > s0 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - plot_h * (value - lo) / ((hi - lo) or 1.0)

    body = _y_axis(ticks, y, left=left, right=left + plot_w, fmt=fmt)
    body.append('<g class="x-axis">')
    for tick in _int_ticks(s0, s1):
        body.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top + plot_h}" '
            f'y2="{top + plot_h + 4}" stroke="{AXIS_TEXT}"/>'
            f'<text x="{x(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'fill="{AXIS_TEXT}">{tick}</text>'
        )
    body.append(
        f'</g><text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 4}" '
        f'text-anchor="middle" fill="{AXIS_TEXT}">step</text>'
    )
    body += _axis_titles(
        "", y_title, left=left, top=top, plot_w=plot_w, plot_h=plot_h, height=height
    )
    for i, (name, vals) in enumerate(series):
        body.append(f'<g class="series" data-series="{i}">')
        if len(vals) > 1:
            coords = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in vals)
            body.append(
                f'<polyline points="{coords}" fill="none" stroke="{color(i)}" stroke-width="2"/>'
            )
        for s, v in vals if len(vals) <= 30 else vals[-1:]:
            body.append(
                f'<circle class="dot" cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{color(i)}">'
                f"<title>{escape(name)} at step {s}: {v:.4g}</title></circle>"
            )
        body.append("</g>")
    body += _legend([name for name, _ in series], x=left, y=14)
    data = {
        "type": "steps",
        "plot": [left, top, plot_w, plot_h],
        "series": [{"name": n, "points": [[s, v] for s, v in vals]} for n, vals in series],
    }
    return _frame(width, height, title, body, data)


def _thin(values: list[tuple[int, float]]) -> list[tuple[int, float]]:
    if len(values) <= MAX_POINTS:
        return values
    every = math.ceil(len(values) / MAX_POINTS)
    return values[::every] + ([values[-1]] if (len(values) - 1) % every else [])


def metric_charts(
    by_name: dict[str, list[tuple[int, float]]],
    groups: Sequence[tuple[str, str, tuple[str, ...]]],
) -> list[dict[str, object]]:
    """Charts of logged metrics: one per (id, title, names) group that has data.

    ``by_name`` maps a metric name to its (step, value) points in step order; each
    kind names its own groups (``KindSpec.charts``).
    """
    charts = []
    for chart_id, title, names in groups:
        series = [(n, _thin(by_name[n])) for n in names if n in by_name]
        if not series:
            continue
        charts.append(
            {
                "id": chart_id,
                "title": title,
                "svg": step_chart(series, title=title),
                "latest": {n: v[-1][1] for n, v in series},
            }
        )
    return charts


def overlay_charts(
    runs: Sequence[tuple[str, dict[str, list[tuple[int, float]]]]],
    *,
    names: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """One chart per metric that at least two of ``runs`` logged, one line per run.

    ``runs`` is (label, metric name → points); the compare page uses it.
    """
    counts: dict[str, int] = {}
    for _, by_name in runs:
        for name in by_name:
            counts[name] = counts.get(name, 0) + 1
    wanted = names or sorted(n for n, c in counts.items() if c >= 2)
    charts = []
    for name in wanted:
        series = [(label, _thin(by[name])) for label, by in runs if by.get(name)]
        if not series:
            continue
        charts.append(
            {
                "id": "compare-" + "".join(ch if ch.isalnum() else "-" for ch in name),
                "title": name,
                "svg": step_chart(series, title=f"{name} per step", y_title=name),
                "latest": {label: v[-1][1] for label, v in series},
            }
        )
    return charts
