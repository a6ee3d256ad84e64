"""Live training charts of a stage run, drawn from its RunMetric rows as SVG.

``training.charts.line_chart`` starts its y axis at 0; losses and reward margins can
be negative, so these charts scale to the data's own range and reuse the frame,
legend and palette of :mod:`training.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString

from .charts import PALETTE, _frame, _legend
from .models import Run, RunMetric

MAX_POINTS = 120

# (chart id, title, metric names in legend order)
CHARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("loss", "Training loss per step", ("loss", "eval_loss")),
    ("margin", "Reward margin (chosen − rejected) per step", ("rewards/margins", "margin")),
    (
        "accuracy",
        "Reward accuracy per step",
        (
            "rewards/accuracies",
            "accuracy",
            "mean_token_accuracy",
            "accuracy/held_out_ai",
            "accuracy/human",
        ),
    ),
)


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


def run_charts(run: Run) -> list[dict[str, object]]:
    """The charts that have data: [{"id", "title", "svg", "latest": {name: value}}]."""
    by_name: dict[str, list[tuple[int, float]]] = {}
    for step, name, value in (
        RunMetric.objects.filter(run=run).order_by("step").values_list("step", "name", "value")
    ):
        by_name.setdefault(name, []).append((step, value))
    charts = []
    for chart_id, title, names in CHARTS:
        present = [n for n in names if n in by_name]
        if "rewards/accuracies" in present and "mean_token_accuracy" in present:
            # DPO also logs the policy's token accuracy, which is not a preference accuracy.
            present.remove("mean_token_accuracy")
        series = [(n, _thin(by_name[n])) for n in present]
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
