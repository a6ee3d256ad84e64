"""The editor's chart: each principle's effective probability (``presenters``) handed
to the app's one chart layer (:mod:`cai_web.charts`) as horizontal bars coloured by
category, with the layer's palette, legend, axis titles and data table."""

from __future__ import annotations

from django.utils.safestring import SafeString

from cai_web.charts import horizontal_bar_chart

from .presenters import ProbabilityView


def probability_chart(view: ProbabilityView, *, title: str) -> SafeString:
    """Bars of ``view``'s rows (grouped by category in the constitution's order), the
    value axis from 0 to a round share at or above the largest probability."""
    return horizontal_bar_chart(
        [(r.key, r.category, r.probability) for r in view.rows],
        title=title,
        x_title="effective probability (share of draws)",
        y_title="principle",
        group_title="category",
        groups=[c.name for c in view.categories],
    )
