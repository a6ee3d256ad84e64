"""The chart layer lays out every text inside the picture: value labels are not cut off
at the right edge, and an axis title does not overlap its ticks. Each text's box is
estimated the way the layer reserves room for it (``text_width``), from its position,
its anchor and its rotation, and checked against the viewBox and the other texts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from labelling import charts as label_charts
from labelling.stats.calibration import calibration
from labelling.stats.common import PairJudgement
from training import charts

SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _text_boxes(svg: str) -> tuple[Box, list[tuple[str, str, Box]]]:
    root = ET.fromstring(str(svg))
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
    svg = label_charts.rate_bars(rows, title="Agreement by category", width=width, reference=0.8)
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
            ["a", "b", "c"], [("observed", [3, 5, 1200]), ("expected", [4, 4, 4])], y_title="n"
        ),
        charts.line_chart(["1", "2", "3"], [("loss", [0.7, 0.5, 0.3])], y_title="loss"),
    ):
        view, texts = _text_boxes(svg)
        for text, _, box in texts:
            assert _inside(box, view), (text, box, view)
