"""The chart layer (cai_web/charts.py) lays out every text inside the picture: value
labels are not cut off at the right edge, and an axis title does not overlap its ticks.
Each text's box is estimated the way the layer reserves room for it (``text_width``),
from its position, its anchor and its rotation, and checked against the viewBox and the
other texts. Every chart the app builds titles both axes, and every chart comes with a
data table of its series (the plain fallback without JavaScript)."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.conf import settings

from cai_web import charts
from constitutions.charts import probability_chart
from constitutions.content import DEMO_CONSTITUTION
from constitutions.presenters import probability_view
from labelling import charts as label_charts
from labelling.stats.calibration import calibration
from labelling.stats.common import PairJudgement
from training.charts import metric_charts, overlay_charts

SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _svg(html: str) -> ET.Element:
    """The ``<svg>`` of one chart of the layer (it sits in a ``div.chart-layer``)."""
    root = ET.fromstring(str(html))
    assert root.tag == "div" and root.get("class") == "chart-layer", root.tag
    svg = root.find(f"{SVG}svg")
    assert svg is not None
    return svg


def _table(html: str) -> tuple[list[str], list[list[str]], str]:
    """The chart's data table: its column heads, its rows' cells and its note."""
    root = ET.fromstring(str(html))
    details = root.find("details")
    assert details is not None and details.get("class") == "chart-data"
    assert "".join(details.find("summary").itertext()) == "Data table"
    table = details.find("div/table")
    head = ["".join(th.itertext()) for th in table.find("thead/tr")]
    rows = [["".join(c.itertext()) for c in tr] for tr in table.find("tbody")]
    note = details.find("p")
    return head, rows, "".join(note.itertext()) if note is not None else ""


def _text_boxes(svg: str) -> tuple[Box, list[tuple[str, str, Box]]]:
    root = _svg(svg)
    view = tuple(float(v) for v in root.get("viewBox", "").split())
    out = []
    for el in root.iter(f"{SVG}text"):
        content = (el.text or "").strip()
        for child in el:  # a <title> inside a <text> is hover text, not drawn
            if child.tag != f"{SVG}title":
                content += child.text or ""
            content += (child.tail or "").strip()
        if not content:
            continue
        size = float(el.get("font-size") or 11)
        width = charts.text_width(content, size)
        anchor = el.get("text-anchor", "start")
        transform = el.get("transform", "")
        rotate = re.match(r"rotate\(-90 ([\d.]+) ([\d.]+)\)", transform)
        if rotate:  # vertical text: its length runs up the y axis around (cx, cy)
            cx, cy = float(rotate[1]), float(rotate[2])
            y0 = {"middle": cy - width / 2, "end": cy, "start": cy - width}[anchor]
            box = (cx - 0.8 * size, y0, cx + 0.25 * size, y0 + width)
        elif transform:
            continue  # the slanted category labels of bar charts are checked elsewhere
        else:
            x, y = float(el.get("x", 0)), float(el.get("y", 0))
            x0 = {"middle": x - width / 2, "end": x - width, "start": x}[anchor]
            box = (x0, y - 0.8 * size, x0 + width, y + 0.25 * size)
        out.append((content, el.get("class", ""), box))
    x, y, w, h = view
    return (x, y, x + w, y + h), out


def _inside(box: Box, view: Box) -> bool:
    return box[0] >= view[0] and box[1] >= view[1] and box[2] <= view[2] and box[3] <= view[3]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _rate(k: int, n: int):
    from labelling.stats.common import wilson_rate

    return wilson_rate(k, n)


@pytest.mark.parametrize("width", [300, 420, 640])
def test_rate_bars_keep_every_value_label_and_long_category_inside_the_picture(width) -> None:
    rows = [
        ("harmlessness: a very long category name indeed", _rate(12_345, 12_345)),
        ("honesty", _rate(0, 7)),
        ("position A first", _rate(333, 1_000)),
        ("nothing reviewed", _rate(0, 0)),
    ]
    svg = label_charts.rate_bars(
        rows,
        title="Agreement by category",
        x_title="agreement",
        y_title="category",
        width=width,
        reference=0.8,
    )
    view, texts = _text_boxes(svg)
    assert any(t == "100.0% · 12345/12345" for t, _, _ in texts)
    for text, _, box in texts:
        assert _inside(box, view), (text, box, view)


def test_the_reliability_chart_keeps_its_axis_titles_clear_of_the_ticks() -> None:
    pairs = [
        PairJudgement("a", "a", p, p, human="a" if i % 3 else "b")
        for i, p in enumerate([0.55, 0.62, 0.71, 0.78, 0.86, 0.93, 0.99] * 5)
    ]
    svg = label_charts.reliability(calibration(pairs))
    view, texts = _text_boxes(svg)
    titles = [(t, box) for t, cls, box in texts if cls == "axis-title"]
    assert sorted(t for t, _ in titles) == ["AI confidence max(p, 1−p)", "human agrees"]
    for text, _, box in texts:
        assert _inside(box, view), (text, box, view)
    for title, (x0, y0, x1, y1) in titles:  # clear by 4 px: real glyphs vary in width
        clear = (x0 - 4, y0 - 4, x1 + 4, y1 + 4)
        for text, cls, box in texts:
            if cls != "axis-title":
                assert not _overlap(clear, box), (title, text)


def test_an_empty_reliability_chart_says_why() -> None:
    svg = label_charts.reliability(calibration([]))
    view, texts = _text_boxes(svg)
    assert any(t == "no probabilities with a human label" for t, _, _ in texts)
    assert all(_inside(box, view) for _, _, box in texts)


def test_bar_and_line_charts_of_the_layer_keep_their_texts_inside() -> None:
    for svg in (
        charts.grouped_bar_chart(
            ["a", "b", "c"],
            [("observed", [3, 5, 1200]), ("expected", [4, 4, 4])],
            x_title="principle",
            y_title="n",
        ),
        charts.line_chart(
            ["1", "2", "3"], [("loss", [0.7, 0.5, 0.3])], x_title="round", y_title="loss"
        ),
    ):
        view, texts = _text_boxes(svg)
        for text, _, box in texts:
            assert _inside(box, view), (text, box, view)


# --- every axis titled, every chart with its data table ----------------------------------


def _steps(n: int, start: float = 2.0) -> list[tuple[int, float]]:
    return [(i + 1, start - 0.001 * i) for i in range(n)]


def _rates():
    return [("consistent", _rate(40, 50)), ("biased to first", _rate(7, 50))]


def _pairs():
    return [
        PairJudgement("a", "a", p, p, human="a" if i % 3 else "b")
        for i, p in enumerate([0.55, 0.62, 0.71, 0.86, 0.99] * 4)
    ]


# Every chart the app builds, by the builder the app calls (the layer's functions, and
# each app's own builders with the titles they pass).
BUILT = {
    "grouped bars": lambda: charts.grouped_bar_chart(
        ["a", "b"], [("observed", [3, 5]), ("expected", [4, 4])], x_title="p", y_title="draws"
    ),
    "bars": lambda: charts.bar_chart(["a", "b"], [1, 2], x_title="p", y_title="n"),
    "lines": lambda: charts.line_chart(
        ["initial", "revision 1"], [("mean words", [30, None])], x_title="answer", y_title="w"
    ),
    "interval bars": lambda: label_charts.rate_bars(
        _rates(), title="Position bias", x_title="share of pairs", y_title="outcome"
    ),
    "reliability": lambda: label_charts.reliability(calibration(_pairs())),
    "steps": lambda: charts.step_chart([("loss", _steps(5))], title="Loss", y_title="loss"),
    "metric, one name": lambda: metric_charts(
        {"rewards/margins": _steps(5)}, [("margin", "Margin", ("rewards/margins",))]
    )[0]["svg"],
    "metric, a group": lambda: metric_charts(
        {"loss": _steps(5), "eval_loss": _steps(2)}, [("loss", "Loss", ("loss", "eval_loss"))]
    )[0]["svg"],
    "compare overlay": lambda: overlay_charts(
        [("#1 a", {"loss": _steps(4)}), ("#2 b", {"loss": _steps(3)})]
    )[0]["svg"],
    "editor probabilities": lambda: probability_chart(
        probability_view(DEMO_CONSTITUTION), title="Effective probability"
    ),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_every_chart_the_app_builds_titles_both_axes_inside_the_picture(name) -> None:
    html = BUILT[name]()
    view, texts = _text_boxes(html)
    titles = [(t, box) for t, cls, box in texts if cls == "axis-title"]
    assert len(titles) == 2 and all(t.strip() for t, _ in titles), titles
    for text, _, box in texts:
        assert _inside(box, view), (name, text, box, view)
    head, rows, _ = _table(html)
    assert head and rows and all(len(r) == len(head) for r in rows), (name, head, rows)


def test_metric_charts_title_the_y_axis_with_the_metric_or_the_groups_name() -> None:
    def y_title(html) -> str:
        texts = [t for t, cls, _ in _text_boxes(html)[1] if cls == "axis-title"]
        return next(t for t in texts if t != "step")

    assert y_title(BUILT["metric, one name"]()) == "rewards/margins"
    assert y_title(BUILT["metric, a group"]()) == "loss"
    assert y_title(BUILT["compare overlay"]()) == "loss"


@pytest.mark.parametrize(
    "build",
    [
        lambda: charts.grouped_bar_chart(["a"], [("s", [1])], x_title="", y_title="n"),
        lambda: charts.line_chart(["a"], [("s", [1])], x_title="x", y_title=" "),
        lambda: charts.interval_bars([], title="t", x_title="rate", y_title=""),
        lambda: charts.step_chart([("loss", [(1, 1.0)])], title="t", y_title=""),
        lambda: charts.horizontal_bar_chart(
            [], title="t", x_title="", y_title="p", group_title="g"
        ),
    ],
)
def test_the_layer_refuses_a_chart_with_an_untitled_axis(build) -> None:
    with pytest.raises(ValueError, match="every axis is titled"):
        build()


LAYER_CALLS = {  # function → the axis titles a call must name (the others have defaults)
    "grouped_bar_chart": ("x_title", "y_title"),
    "bar_chart": ("x_title", "y_title"),
    "line_chart": ("x_title", "y_title"),
    "interval_bars": ("x_title", "y_title"),
    "horizontal_bar_chart": ("x_title", "y_title"),
    "step_chart": ("y_title",),
    "rate_bars": ("x_title", "y_title"),
}


def test_every_call_of_the_chart_layer_in_the_app_names_its_axis_titles() -> None:
    """The parametrized test above draws each builder; this one reads the source, so a
    chart added later anywhere in the app cannot leave an axis unnamed either."""
    root = Path(settings.BASE_DIR)
    calls, missing = 0, []
    for app in ("cai_web", "constitutions", "training", "labelling", "api"):
        for path in (root / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name not in LAYER_CALLS:
                    continue
                calls += 1
                given = {k.arg for k in node.keywords}
                if None in given:  # **kwargs passed through (a wrapper): checked at its callers
                    continue
                lacking = [t for t in LAYER_CALLS[name] if t not in given]
                if lacking:
                    missing.append(f"{path.relative_to(root)}:{node.lineno} {name} {lacking}")
    assert calls >= 12 and missing == [], missing


def test_a_step_charts_table_holds_every_value_past_the_hover_dots_and_says_what_it_thins() -> None:
    short = charts.step_chart([("loss", _steps(150))], title="Loss", y_title="loss")
    # Past 30 points the SVG titles only the last point; the table holds every one.
    assert str(short).count("<title>loss at step") == 1
    head, rows, note = _table(short)
    assert head == ["step", "loss"] and len(rows) == 150 and note == ""
    assert rows[36] == ["37", f"{2.0 - 0.001 * 36:.6g}"]

    long = charts.step_chart(
        [("loss", _steps(1000)), ("eval_loss", [(s, 1.0) for s in range(100, 1001, 100)])],
        title="Loss",
        y_title="loss",
    )
    head, rows, note = _table(long)
    assert head == ["step", "loss", "eval_loss"]
    assert len(rows) <= charts.TABLE_ROWS + 1 and rows[0][0] == "1" and rows[-1][0] == "1000"
    assert rows[-1][2] == "1" and any(r[2] == "—" for r in rows)
    assert f"{len(rows)} of 1000 logged steps shown" in note and "every 5 steps" in note
    # The lines draw at most about MAX_POINTS points per series.
    points = re.search(r'<polyline points="([^"]+)"', str(long))[1].split()
    assert len(points) <= charts.MAX_POINTS + 1


def test_category_and_interval_tables_carry_the_charts_values() -> None:
    head, rows, _ = _table(
        charts.line_chart(
            ["initial", "revision 1"],
            [("refusal rate", [12.5, None])],
            x_title="answer",
            y_title="refusals",
            value_format="{:g}%",
        )
    )
    assert head == ["answer", "refusal rate"] and rows == [
        ["initial", "12.5%"],
        ["revision 1", "—"],
    ]
    head, rows, _ = _table(
        label_charts.rate_bars(
            [("vs gold", _rate(5, 8)), ("nothing", _rate(0, 0))],
            title="Agreement",
            x_title="agreement",
            y_title="compared with",
        )
    )
    assert head == ["compared with", "agreement", "interval"]
    assert rows[0][:2] == ["vs gold", "62.5% · 5/8"] and rows[0][2].count("%") == 2
    assert rows[1] == ["nothing", "no data (n = 0)", "—"]


def test_the_editor_chart_colours_bars_by_category_with_a_legend_and_a_keyed_row_each() -> None:
    view = probability_view(DEMO_CONSTITUTION)
    html = probability_chart(view, title="Effective probability")
    svg = _svg(html)
    categories = list(dict.fromkeys(r.category for r in view.rows))
    assert len(categories) > 2  # more than the two colours the old chart alternated
    legend = [
        ("".join(g.itertext()), g.find(f"{SVG}rect").get("fill"))
        for g in svg.iter(f"{SVG}g")
        if g.get("class") == "legend-item"
    ]
    assert [name for name, _ in legend] == categories
    assert len({fill for _, fill in legend}) == len(categories)
    fills = {name: fill for name, fill in legend}
    for row in view.rows:
        (mark,) = [g for g in svg.iter(f"{SVG}g") if g.get("data-key") == row.key]
        assert mark.find(f"{SVG}rect").get("fill") == fills[row.category]
        assert f"{row.percent:.1f}%" in mark.find(f"{SVG}title").text
    head, rows, _ = _table(html)
    assert head == ["principle", "category", "effective probability (share of draws)"]
    assert [r[0] for r in rows] == [r.key for r in view.rows]
