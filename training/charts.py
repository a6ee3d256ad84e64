"""Server-rendered SVG charts: bar, grouped bar and line charts, no JavaScript.

Every function takes plain lists and returns a ``SafeString`` holding one ``<svg>``
element with a ``<title>`` and an ``aria-label`` (so it reads as an image with a
caption), its own colours (it looks right without the app's stylesheet) and every
label escaped. Any app may use them::

    from training.charts import bar_chart, grouped_bar_chart, line_chart
    svg = grouped_bar_chart(["a", "b"], [("observed", [3, 5]), ("expected", [4, 4])])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1a56db", "#9bb4e8", "#d97706", "#0f766e", "#b91c1c", "#6b21a8")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float, fmt: str) -> str:
    return fmt.format(value)


def _frame(width: int, height: int, title: str, body: list[str]) -> SafeString:
    label = escape(title)
    return mark_safe(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" aria-label="{label}" {_FONT}>'
        f"<title>{label}</title>" + "".join(body) + "</svg>"
    )


def _axes(
    ticks: list[float], *, left: int, top: int, plot_w: float, plot_h: float, fmt: str
) -> list[str]:
    body = []
    top_value = ticks[-1] or 1.0
    for tick in ticks:
        y = top + plot_h - plot_h * tick / top_value
        body.append(
            f'<line x1="{left}" x2="{left + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280">'
            f"{escape(_fmt(tick, fmt))}</text>"
        )
    return body


def _legend(names: Sequence[str], *, x: float, y: float) -> list[str]:
    body, offset = [], 0.0
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        body.append(
            f'<rect x="{x + offset:.1f}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + offset + 14:.1f}" y="{y}" fill="#374151">{escape(name)}</text>'
        )
        offset += 24 + 6.5 * len(name)
    return body


def _x_labels(labels: Sequence[str], centers: Sequence[float], y: float, rotate: bool) -> list[str]:
    body = []
    for label, cx in zip(labels, centers, strict=True):
        text = escape(label if len(label) <= 22 else label[:21] + "…")
        if rotate:
            body.append(
                f'<text transform="translate({cx:.1f},{y}) rotate(-35)" text-anchor="end" '
                f'fill="#374151">{text}</text>'
            )
        else:
            body.append(
                f'<text x="{cx:.1f}" y="{y}" text-anchor="middle" fill="#374151">{text}</text>'
            )
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
) -> SafeString:
    """Bars for each label, one per series side by side, with a legend when there are several."""
    labels = [str(label) for label in labels]
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    rotate = any(len(label) > 10 for label in labels) and len(labels) > 3
    left, right, top = 48, 12, 28 if len(series) > 1 else 14
    bottom = 78 if rotate else 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((float(v) for _, values in series for v in values), default=0.0)
    ticks = nice_ticks(peak)
    top_value = ticks[-1] or 1.0
    body = _axes(ticks, left=left, top=top, plot_w=plot_w, plot_h=plot_h, fmt=value_format)
    group_w = plot_w / max(1, len(labels))
    bar_w = group_w * 0.8 / max(1, len(series))
    centers = []
    for i in range(len(labels)):
        gx = left + i * group_w + group_w * 0.1
        centers.append(left + (i + 0.5) * group_w)
        for s, (name, values) in enumerate(series):
            value = float(values[i])
            h = plot_h * max(0.0, value) / top_value
            x, y = gx + s * bar_w, top + plot_h - h
            color = PALETTE[s % len(PALETTE)]
            tip = escape(f"{labels[i]} · {name}: {_fmt(value, value_format)}")
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{tip}</title></rect>'
            )
            if show_values and bar_w >= 14:
                body.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                    f'fill="#374151" font-size="10">{escape(_fmt(value, value_format))}</text>'
                )
    body += _x_labels(labels, centers, top + plot_h + 14, rotate)
    if len(series) > 1:
        body += _legend([name for name, _ in series], x=left, y=14)
    return _frame(width, height, title, body)


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
) -> SafeString:
    """One line per series over the same x labels; ``None`` values leave a gap."""
    x_labels = [str(label) for label in x_labels]
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x_labels)} labels")
    left, right, top, bottom = 48, 16, 28 if len(series) > 1 else 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((float(v) for _, values in series for v in values if v is not None), default=0.0)
    ticks = nice_ticks(y_max if y_max is not None else peak)
    top_value = ticks[-1] or 1.0
    body = _axes(ticks, left=left, top=top, plot_w=plot_w, plot_h=plot_h, fmt=value_format)
    n = len(x_labels)
    xs = [left + (plot_w * (i + 0.5) / n) for i in range(n)]
    for s, (name, values) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        segments: list[list[tuple[float, float, float]]] = [[]]
        for x, value in zip(xs, values, strict=True):
            if value is None:
                segments.append([])
                continue
            y = top + plot_h - plot_h * float(value) / top_value
            segments[-1].append((x, y, float(value)))
        for segment in segments:
            if len(segment) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in segment)
                body.append(
                    f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>'
                )
            for x, y, value in segment:
                tip = escape(f"{name}: {_fmt(value, value_format)}")
                body.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{tip}</title></circle>'
                    f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" fill="#374151" '
                    f'font-size="10">{escape(_fmt(value, value_format))}</text>'
                )
    body += _x_labels(x_labels, xs, top + plot_h + 16, rotate=False)
    if len(series) > 1:
        body += _legend([name for name, _ in series], x=left, y=14)
    return _frame(width, height, title, body)


# --- metrics of training runs (negative values allowed) ---------------------------------

MAX_POINTS = 120


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < high - 1e-12:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def step_chart(
    series: Sequence[tuple[str, Sequence[tuple[int, float]]]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """Lines of (step, value) points on a shared step axis, y scaled to the data."""
    points = [(s, v) for _, values in series for s, v in values]
    steps = [s for s, _ in points] or [0, 1]
    values = [v for _, v in points] or [0.0, 1.0]
    ticks = _ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    s0, s1 = min(steps), max(steps)
    left, right, top, bottom = 52, 16, 28 if len(series) > 1 else 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(step: float) -> float:
        return left + (plot_w * (step - s0) / (s1 - s0) if s1 > s0 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - plot_h * (value - lo) / ((hi - lo) or 1.0)

    body = []
    for tick in ticks:
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'fill="#6b7280">{tick:g}</text>'
        )
    for label_step, anchor in ((s0, "start"), (s1, "end"))[: 1 if s0 == s1 else 2]:
        body.append(
            f'<text x="{x(label_step):.1f}" y="{height - 10}" text-anchor="{anchor}" '
            f'fill="#374151">step {label_step}</text>'
        )
    for i, (name, values) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in values)
        if len(values) > 1:
            body.append(
                f'<polyline class="series" data-name="{escape(name)}" points="{coords}" '
                f'fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for s, v in values[-1:] if len(values) > 1 else values:
            body.append(
                f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3.5" fill="{color}">'
                f"<title>{escape(name)} at step {s}: {v:.4g}</title></circle>"
            )
    if len(series) > 1:
        body += _legend([name for name, _ in series], x=left, y=14)
    return _frame(width, height, title, body)


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
