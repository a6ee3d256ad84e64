"""Training's charts: logged metrics over optimizer steps, one run or several overlaid.

They hand ``RunMetric`` series to the app's one chart layer (:mod:`cai_web.charts`),
which draws, titles both axes, adds the data table and thins long series; nothing
is laid out here.
"""

from __future__ import annotations

from collections.abc import Sequence

from cai_web.charts import step_chart


def metric_y_title(chart_id: str, names: Sequence[str]) -> str:
    """What a metric chart's y axis measures: the metric's name when the chart draws
    one, else the group's id (``loss`` for loss and eval_loss; the legend names each)."""
    return names[0] if len(names) == 1 else chart_id


def metric_charts(
    by_name: dict[str, list[tuple[int, float]]],
    groups: Sequence[tuple[str, str, tuple[str, ...]]],
) -> list[dict[str, object]]:
    """Charts of logged metrics: one per (id, title, names) group that has data.

    ``by_name`` maps a metric name to its (step, value) points in step order; each
    kind names its own groups (``KindSpec.charts``).
    """
    charts: list[dict[str, object]] = []
    for chart_id, title, names in groups:
        series = [(n, by_name[n]) for n in names if n in by_name]
        if not series:
            continue
        y_title = metric_y_title(chart_id, [n for n, _ in series])
        charts.append(
            {
                "id": chart_id,
                "title": title,
                "svg": step_chart(series, title=title, y_title=y_title),
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
    charts: list[dict[str, object]] = []
    for name in wanted:
        series = [(label, by[name]) for label, by in runs if by.get(name)]
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
