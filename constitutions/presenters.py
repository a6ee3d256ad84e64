"""Numbers shaped for the version page: the effective-probability table and its chart.

Django-free; ``constitutions.charts`` hands the rows to the app's chart layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .content import ConstitutionContent, ContentError
from .sampler import Use, category_probabilities, comparison_fallback, principle_probabilities


@dataclass(frozen=True)
class ProbabilityRow:
    key: str
    category: str
    probability: float
    enabled: bool

    @property
    def percent(self) -> float:
        return self.probability * 100


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


def probability_view(content: ConstitutionContent, use: Use = "critique") -> ProbabilityView:
    """Each principle's effective probability for ``use`` and the per-category totals.

    Rows are grouped by category (display order). Principles ``use`` never draws are
    left out of the rows. A draft with nothing drawable gets ``available=False`` and
    the reason, never an exception.
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
        )
        for p in principles
    )
    return ProbabilityView(
        available=True,
        fallback=fallback,
        rows=rows,
        categories=tuple(CategoryTotal(name, p) for name, p in cat_probs.items()),
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
