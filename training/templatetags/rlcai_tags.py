"""``{% rlcai_launch team %}``: the RL-CAI launch forms, for the runs page."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("training/_rlcai_launch_forms.html", takes_context=True)
def rlcai_launch(context: template.Context, team: Any) -> dict[str, Any]:
    from training.views_rlcai import launch_forms

    return {
        "team": team,
        "forms": launch_forms(team),
        "open_kind": "",
        "csrf_token": context.get("csrf_token"),
    }
