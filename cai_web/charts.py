"""The app's one chart layer: server-rendered SVG that static/js/charts.js makes interactive.

Every chart function takes plain lists and returns a ``SafeString`` holding one
``<div class="chart-layer">``: the ``<svg>`` in one style (palette, font, grid, legend,
both axes titled) and, below it, a ``<details>`` "Data table" of the same series, the
plain table that reads without JavaScript, in a screen reader or in a text browser.
The SVG reads as an image with a caption (``<title>``, ``aria-label``), looks right
without the app's stylesheet or JavaScript, and escapes every label. It carries its
data as JSON (``data-chart``) so the script adds, in the browser, hover values for
every series at the pointer, a legend that hides and shows series, and (step charts)
drag to zoom, double-click to reset. Any app uses them::

    from cai_web.charts import grouped_bar_chart
    html = grouped_bar_chart(
        ["a", "b"], [("observed", [3, 5]), ("expected", [4, 4])],
        title="Draws", x_title="principle", y_title="draws",
    )

Every axis is titled: the functions take ``x_title`` and ``y_title`` and refuse an
empty one (``ValueError``), so no chart of the app can leave an axis unnamed.

Why our own SVG and not a vendored library: the charts must read without JavaScript
(house style: every page works without it) and the pages are htmx fragments swapped
every 2 s; a server SVG is both, and the script only enhances what is already drawn.
Why ``data-chart`` and not ``json_script``: one chart's data lives on the element it
describes and is swapped with it; there is no ``id`` to keep unique across fragments
and no lookup that can find another chart's (stale) data. docs/runs.md "Charts".

Training's own builders (metrics over steps from ``RunMetric`` rows, the compare
overlay) are in ``training/charts.py``; the statistics page's in ``labelling/charts.py``;
the editor's in ``constitutions/charts.py``. They lay out nothing themselves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Distinct hues first (observed and expected must never look alike), then the rest.
PALETTE = ("#2457c5", "#d97706", "#0f766e", "#b3261e", "#6b21a8", "#64748b")
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
GRID, AXIS_TEXT, TEXT = "#e5e7eb", "#5f6b76", "#1d232a"
CHAR_W = 6.2  # average width of an 11 px character, to lay out legends and margins
MAX_POINTS = 120  # points per series a step chart draws (and hands the script)
TABLE_ROWS = 200  # rows a step chart's data table lists at most; longer series are thinned
HOVER_DOTS = 30  # a step series with more points draws (and titles) only its last


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


def text_width(text: str, size: float = 11) -> float:
    """The estimated width of ``text`` at ``size`` px, what every layout here reserves."""
    return CHAR_W * size / 11 * len(text)


def _require_titles(x_title: str, y_title: str) -> None:
    missing = [axis for axis, t in (("x_title", x_title), ("y_title", y_title)) if not t.strip()]
    if missing:
        raise ValueError(f"every axis is titled: give {' and '.join(missing)}")


# --- the plain table under every chart -------------------------------------------------


@dataclass(frozen=True)
class DataTable:
    """A chart's series as rows: ``head`` names the columns, ``numeric`` says which are
    numbers (right-aligned); the first column heads each row. ``note`` says what the
    table leaves out (thinned steps)."""

    head: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: Sequence[bool] = field(default_factory=tuple)
    note: str = ""

    def html(self, caption: str) -> str:
        numeric = list(self.numeric) or [i > 0 for i in range(len(self.head))]

        def cls(i: int) -> str:
            return ' class="num"' if numeric[i] else ""

        head = "".join(f'<th scope="col"{cls(i)}>{escape(h)}</th>' for i, h in enumerate(self.head))
        body = "".join(
            "<tr>"
            + "".join(
                f'<th scope="row">{escape(c)}</th>' if i == 0 else f"<td{cls(i)}>{escape(c)}</td>"
                for i, c in enumerate(row)
            )
            + "</tr>"
            for row in self.rows
        )
        return (
            '<details class="chart-data"><summary>Data table</summary>'
            '<div class="chart-table"><table class="table">'
            + (f"<caption>{escape(caption)}</caption>" if caption else "")
            + f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
            + (f'<p class="muted chart-note">{escape(self.note)}</p>' if self.note else "")
            + "</details>"
        )


def _frame(
    width: int,
    height: int,
    title: str,
    body: list[str],
    data: dict[str, Any] | None,
    table: DataTable,
) -> SafeString:
    """The one wrapper: the ``<svg>`` and its data table. ``data`` None: no series for
    the script, which then shows each mark's own ``<title>`` on hover."""
    label = escape(title)
    spec = (
        f' data-chart="{escape(json.dumps(data, separators=(",", ":"), allow_nan=False))}"'
        if data is not None
        else ""
    )
    return mark_safe(
        '<div class="chart-layer">'
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" aria-label="{label}" '
        f'font-family="{FONT}" font-size="11"{spec}>'
        f"<title>{label}</title>" + "".join(body) + "</svg>" + table.html(title) + "</div>"
    )


# --- shared pieces ----------------------------------------------------------------------


def _legend(
    names: Sequence[str],
    *,
    x: float,
    y: float,
    right: float,
    indices: Sequence[int] | None = None,
) -> tuple[list[str], int]:
    """One swatch and name per series (clickable in the browser), wrapped into as many
    rows of 16 px as ``right`` (the picture's right edge) needs; ``indices`` are the
    series numbers (and colours) when they are not 0, 1, 2, …. Returns the body and the
    number of rows."""
    body, offset, rows = ['<g class="legend">'], 0.0, 1
    room = max(40.0, right - x - 18)
    for i, name in zip(indices or range(len(names)), names, strict=True):
        shown = name
        if text_width(name) > room:
            shown = name[: max(1, int(room / CHAR_W) - 1)] + "…"
        item_w = 14 + text_width(shown)
        if offset and x + offset + item_w > right:
            rows, offset = rows + 1, 0.0
        top = y + 16 * (rows - 1)
        tip = f"<title>{escape(name)}</title>" if shown != name else ""
        body.append(
            f'<g class="legend-item" data-series="{i}">'
            f'<rect x="{x + offset:.1f}" y="{top - 9}" width="10" height="10" rx="2" '
            f'fill="{color(i)}"/>'
            f'<text x="{x + offset + 14:.1f}" y="{top}" fill="{TEXT}">{tip}{escape(shown)}</text>'
            "</g>"
        )
        offset += item_w + 12
    body.append("</g>")
    return body, rows


def _y_axis(
    ticks: Sequence[float],
    y_of: Callable[[float], float],
    *,
    left: float,
    right: float,
    fmt: str,
) -> list[str]:
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
    """The x title under the plot, the y title turned up the left edge (shortened with
    "…" when it is longer than the plot is tall; the whole title on hover)."""
    body = []
    if x_title:
        body.append(
            f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 4}" '
            f'text-anchor="middle" fill="{AXIS_TEXT}">{escape(x_title)}</text>'
        )
    if y_title:
        cy = top + plot_h / 2
        shown, tip = y_title, ""
        room = max(3, int((plot_h + 20) / CHAR_W))
        if len(y_title) > room:
            shown, tip = y_title[: room - 1] + "…", f"<title>{escape(y_title)}</title>"
        body.append(
            f'<text class="axis-title" x="12" y="{cy:.1f}" transform="rotate(-90 12 {cy:.1f})" '
            f'text-anchor="middle" fill="{AXIS_TEXT}">{tip}{escape(shown)}</text>'
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


def _category_table(
    x_title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    value_format: str,
) -> DataTable:
    def cell(value: float | None) -> str:
        return "—" if value is None else _fmt(float(value), value_format)

    return DataTable(
        head=[x_title, *(name for name, _ in series)],
        rows=[[label, *(cell(vs[i]) for _, vs in series)] for i, label in enumerate(labels)],
    )


def _category_frame(
    body: list[str],
    labels: Sequence[str],
    xs: Sequence[float],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    plot: tuple[float, float, float, float],
    size: tuple[int, int],
    title: str,
    x_title: str,
    y_title: str,
    value_format: str,
) -> SafeString:
    """The end of every chart over categories (bars and lines): axis titles, the data
    the script reads (a ``None`` value is a gap) and the data table."""
    left, top, plot_w, plot_h = plot
    width, height = size
    body += _axis_titles(
        x_title, y_title, left=left, top=top, plot_w=plot_w, plot_h=plot_h, height=height
    )
    data = {
        "type": "category",
        "labels": list(labels),
        "xs": [round(x, 1) for x in xs],
        "plot": [left, top, plot_w, plot_h],
        "format": value_format,
        "series": [
            {"name": n, "values": [None if v is None else float(v) for v in vs]} for n, vs in series
        ],
    }
    table = _category_table(x_title, labels, series, value_format)
    return _frame(width, height, title, body, data, table)


# --- bars and lines over categories -----------------------------------------------------


def grouped_bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str = "",
    x_title: str,
    y_title: str,
    width: int = 640,
    height: int = 260,
    value_format: str = "{:g}",
    show_values: bool = True,
) -> SafeString:
    """Bars for each label, one per series side by side, with a legend."""
    _require_titles(x_title, y_title)
    labels = [str(label) for label in labels]
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    rotate = any(len(label) > 10 for label in labels) and len(labels) > 3
    peak = max((float(v) for _, values in series for v in values), default=0.0)
    ticks = nice_ticks(peak)
    left, right = _y_margin(ticks, value_format, y_title), 16
    legend, legend_rows = _legend([name for name, _ in series], x=left, y=14, right=width - 4)
    top = 30 + 16 * (legend_rows - 1)
    bottom = (78 if rotate else 30) + 16
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
    body += legend
    return _category_frame(
        body,
        labels,
        centers,
        series,
        plot=(left, top, plot_w, plot_h),
        size=(width, height),
        title=title,
        x_title=x_title,
        y_title=y_title,
        value_format=value_format,
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    x_title: str,
    y_title: str,
    width: int = 640,
    height: int = 240,
    value_format: str = "{:g}",
) -> SafeString:
    """One bar per label; the series is named after the y axis."""
    return grouped_bar_chart(
        labels,
        [(y_title, values)],
        title=title,
        x_title=x_title,
        y_title=y_title,
        width=width,
        height=height,
        value_format=value_format,
    )


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str = "",
    x_title: str,
    y_title: str,
    width: int = 640,
    height: int = 240,
    value_format: str = "{:g}",
    y_max: float | None = None,
) -> SafeString:
    """One line per series over the same x labels; ``None`` values leave a gap."""
    _require_titles(x_title, y_title)
    x_labels = [str(label) for label in x_labels]
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x_labels)} labels")
    peak = max((float(v) for _, values in series for v in values if v is not None), default=0.0)
    ticks = nice_ticks(y_max if y_max is not None else peak)
    left, right = _y_margin(ticks, value_format, y_title), 24
    legend, legend_rows = _legend([name for name, _ in series], x=left, y=14, right=width - 4)
    top = 30 + 16 * (legend_rows - 1)
    bottom = 30 + 16
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
    body += legend
    return _category_frame(
        body,
        x_labels,
        xs,
        series,
        plot=(left, top, plot_w, plot_h),
        size=(width, height),
        title=title,
        x_title=x_title,
        y_title=y_title,
        value_format=value_format,
    )


# --- horizontal bars: rates with intervals, shares by category -------------------------


def _label_column(labels: Sequence[str], y_title: str, gap: float) -> tuple[float, int]:
    """The width of a horizontal chart's label column (its longest label, at most 28
    characters, or its header, the y title) and how many characters a label keeps."""
    chars = min(max((len(label) for label in labels), default=0), 28)
    return gap + max(text_width("m" * chars), text_width(y_title)), chars


def _short(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: max(1, chars - 1)] + "…"


def interval_bars(
    rows: Sequence[tuple[str, float | None, float, float, str]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    width: int = 460,
    reference: float | None = None,
) -> SafeString:
    """Horizontal bars of rates in [0, 1] with their interval as whiskers.

    ``rows``: (label, rate or None for no data, interval low, interval high, the value
    text printed right of the plot, e.g. "62.5% · 5/8"). The label column (headed by
    ``y_title``) and the value column are as wide as their longest text, so no text
    leaves the picture; ``x_title`` names the rate under its ticks.
    """
    _require_titles(x_title, y_title)
    row_h, top, bottom, gap = 26, 24, 40, 8
    label_w, label_chars = _label_column([label for label, *_ in rows], y_title, gap)
    right_w = gap + max((text_width(text) for *_, text in rows), default=0.0) + 4
    plot_w = max(160.0, width - label_w - right_w)
    width = int(math.ceil(label_w + plot_w + right_w))
    height = top + row_h * len(rows) + bottom
    body = ['<g class="x-axis">']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - bottom + 4}" '
            f'stroke="{GRID}"/><text x="{x:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" fill="{AXIS_TEXT}">{tick:.0%}</text>'
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
        shown = _short(label, label_chars)
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
    body += _column_titles(x_title, y_title, label_w, plot_w, right_w, gap, height, header_y=14)
    table = DataTable(
        head=[y_title, x_title, "interval"],
        rows=[
            [
                label,
                text if rate is not None else "no data (n = 0)",
                f"{low:.1%}–{high:.1%}" if rate is not None else "—",
            ]
            for label, rate, low, high, text in rows
        ],
    )
    return _frame(width, height, title, body, None, table)


def _column_titles(
    x_title: str,
    y_title: str,
    label_w: float,
    plot_w: float,
    right_w: float,
    gap: float,
    height: int,
    *,
    header_y: float,
) -> list[str]:
    """A horizontal chart's axis titles: the category axis (``y_title``) heads the
    label column like a table header; the value axis (``x_title``) sits under its ticks,
    centred on the plot as far as the picture allows."""
    half = text_width(x_title) / 2
    cx = min(max(label_w + plot_w / 2, half + 2), label_w + plot_w + right_w - half - 2)
    return [
        f'<text class="axis-title" x="{label_w - gap:.1f}" y="{header_y}" text-anchor="end" '
        f'fill="{AXIS_TEXT}">{escape(y_title)}</text>',
        f'<text class="axis-title" x="{cx:.1f}" y="{height - 4}" '
        f'text-anchor="middle" fill="{AXIS_TEXT}">{escape(x_title)}</text>',
    ]


def horizontal_bar_chart(
    rows: Sequence[tuple[str, str, float]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    group_title: str,
    groups: Sequence[str] = (),
    value_format: str = "{:.1%}",
    tick_format: str = "{:.0%}",
    width: int = 560,
) -> SafeString:
    """One horizontal bar per row, coloured by its group, with a legend of the groups.

    ``rows``: (label, group, value), drawn top to bottom. ``groups`` fixes each group's
    colour by its place (a category keeps its colour in every chart of a page); groups
    not named there follow in the order they appear. The legend lists the groups that
    have rows. Each row is a ``<g data-key="label">`` holding its hover ``<title>``,
    label, bar and value, inside its group's series (the legend hides a group). The
    value axis starts at 0 and ends at a round tick at or above the largest value.
    """
    _require_titles(x_title, y_title)
    row_h, gap = 22, 8
    order = list(dict.fromkeys([*groups, *(group for _, group, _ in rows)]))
    present = {group for _, group, _ in rows}
    drawn = [(i, group) for i, group in enumerate(order) if group in present]
    label_w, label_chars = _label_column([label for label, _, _ in rows], y_title, gap)
    ticks = nice_ticks(max((float(v) for _, _, v in rows), default=0.0))
    top_value = ticks[-1] or 1.0
    right_w = gap + max((text_width(_fmt(float(v), value_format)) for *_, v in rows), default=0.0)
    right_w = max(right_w, text_width(_fmt(top_value, tick_format)) / 2) + 6
    plot_w = max(160.0, width - label_w - right_w)
    width = int(math.ceil(label_w + plot_w + right_w))
    legend, legend_rows = _legend(
        [group for _, group in drawn],
        x=label_w,
        y=14,
        right=width - 4,
        indices=[i for i, _ in drawn],
    )
    top = 24 + 16 * (legend_rows - 1)
    plot_h = row_h * max(1, len(rows))
    height = top + plot_h + 38

    def x_of(value: float) -> float:
        return label_w + plot_w * max(0.0, value) / top_value

    body = ['<g class="x-axis">']
    for tick in ticks:
        x = x_of(tick)
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 2}" x2="{x:.1f}" y2="{top + plot_h + 2}" '
            f'stroke="{GRID}"/><text x="{x:.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle" fill="{AXIS_TEXT}">{escape(_fmt(tick, tick_format))}</text>'
        )
    body.append("</g>")
    if not rows:
        body.append(
            f'<text x="{label_w + 4:.1f}" y="{top + 15}" fill="{AXIS_TEXT}">nothing to draw</text>'
        )
    for s, group in drawn:
        body.append(f'<g class="series" data-series="{s}">')
        for i, (label, row_group, raw) in enumerate(rows):
            if row_group != group:
                continue
            value, y = float(raw), top + i * row_h
            text = _fmt(value, value_format)
            body.append(
                f'<g class="mark" data-key="{escape(label)}">'
                f"<title>{escape(label)} ({escape(group)}): {escape(text)}</title>"
                f'<text x="{label_w - gap:.1f}" y="{y + 15}" text-anchor="end" fill="{TEXT}">'
                f"{escape(_short(label, label_chars))}</text>"
                f'<rect class="bar" x="{label_w:.1f}" y="{y + 3}" '
                f'width="{x_of(value) - label_w:.2f}" height="16" fill="{color(s)}"/>'
                f'<text x="{x_of(value) + 5:.1f}" y="{y + 15}" fill="{TEXT}">{escape(text)}</text>'
                "</g>"
            )
        body.append("</g>")
    body += legend
    body += _column_titles(x_title, y_title, label_w, plot_w, right_w, gap, height, header_y=14)
    data = {"type": "marks", "series": [{"name": g} for g in order]}
    table = DataTable(
        head=[y_title, group_title, x_title],
        rows=[[label, group, _fmt(float(v), value_format)] for label, group, v in rows],
        numeric=[False, False, True],
    )
    return _frame(width, height, title, body, data, table)


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
    _require_titles(x_title, y_title)
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
    table = DataTable(
        head=[x_title, y_title, "interval", "n", "detail"],
        rows=[
            [
                f"{x_value:.2f}",
                f"{y_value:.1%}",
                f"{interval[0]:.1%}–{interval[1]:.1%}" if interval else "—",
                str(n),
                tip,
            ]
            for x_value, y_value, interval, n, tip in points
        ],
        numeric=[True, True, True, True, False],
    )
    return _frame(size, height, title, body, None, table)


# --- values over optimizer steps (negative values allowed) ------------------------------


def thin(values: Sequence[tuple[int, float]], most: int = MAX_POINTS) -> list[tuple[int, float]]:
    """At most about ``most`` evenly spaced points of ``values``, the last always kept."""
    values = list(values)
    if len(values) <= most:
        return values
    every = math.ceil(len(values) / most)
    return values[::every] + ([values[-1]] if (len(values) - 1) % every else [])


def _step_table(series: Sequence[tuple[str, Sequence[tuple[int, float]]]]) -> DataTable:
    """Every logged step (up to ``TABLE_ROWS``, else every k-th and the last, said in
    the note) with each series' value there; "—" where a series logged nothing."""
    by_step: dict[int, dict[int, float]] = {}
    for i, (_, values) in enumerate(series):
        for step, value in values:
            by_step.setdefault(int(step), {})[i] = float(value)
    steps = sorted(by_step)
    shown = steps
    note = ""
    if len(steps) > TABLE_ROWS:
        every = math.ceil(len(steps) / TABLE_ROWS)
        shown = steps[::every] + ([steps[-1]] if (len(steps) - 1) % every else [])
        note = (
            f"{len(shown)} of {len(steps)} logged steps shown (every {every} steps and the "
            f"last); {len(steps) - len(shown)} thinned out. The API's metrics endpoint has "
            "every point."
        )
    return DataTable(
        head=["step", *(name for name, _ in series)],
        rows=[
            [
                str(step),
                *(
                    f"{by_step[step][i]:.6g}" if i in by_step[step] else "—"
                    for i in range(len(series))
                ),
            ]
            for step in shown
        ],
        note=note,
    )


def step_chart(
    series: Sequence[tuple[str, Sequence[tuple[int, float]]]],
    *,
    title: str,
    y_title: str,
    width: int = 640,
    height: int = 240,
) -> SafeString:
    """Lines of (step, value) points on a shared step axis, y scaled to the data.

    Give every point: the lines (and the script's data) keep ``MAX_POINTS`` evenly
    spaced ones per series, the data table up to ``TABLE_ROWS`` steps. The step axis
    is labelled at round steps from the first to the last; the browser script redraws
    the same groups (``y-axis``, ``x-axis``, ``series``) when zoomed.
    """
    _require_titles("step", y_title)
    table = _step_table(series)
    series = [(name, thin(values)) for name, values in series]
    points = [(s, v) for _, values in series for s, v in values]
    steps = [s for s, _ in points] or [0, 1]
    values = [v for _, v in points] or [0.0, 1.0]
    ticks = _ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    s0, s1 = min(steps), max(steps)
    fmt = "{:.4g}"
    left, right = _y_margin(ticks, fmt, y_title), 24
    legend, legend_rows = _legend([name for name, _ in series], x=left, y=14, right=width - 4)
    top, bottom = 30 + 16 * (legend_rows - 1), 34
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
    body.append("</g>")
    body += _axis_titles(
        "step", y_title, left=left, top=top, plot_w=plot_w, plot_h=plot_h, height=height
    )
    for i, (name, vals) in enumerate(series):
        body.append(f'<g class="series" data-series="{i}">')
        if len(vals) > 1:
            coords = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in vals)
            body.append(
                f'<polyline points="{coords}" fill="none" stroke="{color(i)}" stroke-width="2"/>'
            )
        for s, v in vals if len(vals) <= HOVER_DOTS else vals[-1:]:
            body.append(
                f'<circle class="dot" cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{color(i)}">'
                f"<title>{escape(name)} at step {s}: {v:.4g}</title></circle>"
            )
        body.append("</g>")
    body += legend
    data = {
        "type": "steps",
        "plot": [left, top, plot_w, plot_h],
        "series": [{"name": n, "points": [[s, v] for s, v in vals]} for n, vals in series],
    }
    return _frame(width, height, title, body, data, table)
