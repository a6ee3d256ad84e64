"""Numbers shaped for the version page: the effective-probability table and its bar chart.

Django-free; the template draws the chart as inline SVG from these coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

from .content import ConstitutionContent, ContentError
from .sampler import Use, category_probabilities, comparison_fallback, principle_probabilities

CHART_LABEL_WIDTH = 130
CHART_BAR_WIDTH = 220
CHART_ROW_HEIGHT = 22
CHART_TOP = 8


@dataclass(frozen=True)
class ProbabilityRow:
    key: str
    category: str
    probability: float
    enabled: bool
    # Chart geometry (SVG user units).
    y: float
    bar_width: float
    alt: bool  # alternate bar colour per category, so groups read apart

    @property
    def percent(self) -> float:
        return self.probability * 100

    @property
    def bar_y(self) -> float:
        return self.y + 3

    @property
    def text_y(self) -> float:
        return self.y + 15

    @property
    def value_x(self) -> float:
        return CHART_LABEL_WIDTH + self.bar_width + 5


@dataclass(frozen=True)
class CategoryTotal:
    name: str
    probability: float

    @property
    def percent(self) -> float:
        return self.probability * 100


@dataclass(frozen=True)
class ProbabilityView:
    available: bool
    reason: str = ""
    # For the labelling view: True when no principle has a comparison question, so
    # labelling draws every principle and asks DEFAULT_COMPARISON_QUESTION.
    fallback: bool = False
    rows: tuple[ProbabilityRow, ...] = ()
    categories: tuple[CategoryTotal, ...] = ()
    chart_width: int = CHART_LABEL_WIDTH + CHART_BAR_WIDTH + 50
    chart_height: int = 0
    label_width: int = CHART_LABEL_WIDTH
    label_x: int = CHART_LABEL_WIDTH - 6

    @property
    def summary(self) -> str:
        return "; ".join(f"{r.key} {r.percent:.1f}%" for r in self.rows)


def probability_view(content: ConstitutionContent, use: Use = "critique") -> ProbabilityView:
    """Each principle's effective probability for ``use``, per-category totals and bar geometry.

    Bars are scaled to the largest probability so small differences stay visible;
    the labels carry the exact numbers. Principles ``use`` never draws are left out
    of the rows. A draft with nothing drawable gets ``available=False`` and the
    reason, never an exception.
    """
    try:
        fallback = use == "comparison" and comparison_fallback(content)
        probs = principle_probabilities(content, use)
        cat_probs = category_probabilities(content, use)
    except ContentError as exc:
        return ProbabilityView(available=False, reason="; ".join(exc.problems))
    usable = {p.key for p in content.principles if p.critiques} if use == "critique" else None
    if use == "comparison" and not fallback:
        usable = {p.key for p in content.principles if p.compares}
    top = max(probs.values(), default=0.0) or 1.0
    order = {c.name: i for i, c in enumerate(content.categories)}
    # Group the rows by category (display order), keeping principle order inside each.
    principles = sorted(
        (p for p in content.principles if usable is None or p.key in usable),
        key=lambda p: order.get(p.category, len(order)),
    )
    rows = tuple(
        ProbabilityRow(
            key=p.key,
            category=p.category,
            probability=probs[p.key],
            enabled=p.enabled,
            y=CHART_TOP + i * CHART_ROW_HEIGHT,
            bar_width=round(CHART_BAR_WIDTH * probs[p.key] / top, 2),
            alt=order.get(p.category, 0) % 2 == 1,
        )
        for i, p in enumerate(principles)
    )
    return ProbabilityView(
        available=True,
        fallback=fallback,
        rows=rows,
        categories=tuple(CategoryTotal(name, p) for name, p in cat_probs.items()),
        chart_height=CHART_TOP * 2 + len(rows) * CHART_ROW_HEIGHT,
    )


def labelling_summary(content: ConstitutionContent) -> str:
    """One line on what the AI labeller asks under this content (launch form, run pages)."""
    try:
        fallback = comparison_fallback(content)
        drawable = principle_probabilities(content, "comparison")
    except ContentError:
        return "nothing to draw"
    if fallback:
        return "no comparison question: labelling asks the default question"
    n = sum(1 for p in content.principles if drawable[p.key] > 0)
    return f"labelling draws {n} principle{'s' if n != 1 else ''} with a comparison question"
