"""The team dashboard gathers one panel per app, so apps stay independent."""

from __future__ import annotations

import importlib
from typing import Any

from .models import Membership, Team

PANEL_PROVIDERS = (
    "constitutions.selectors",
    "training.selectors",
    "labelling.selectors",
)


def dashboard_panels(team: Team, membership: Membership) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for module_name in PANEL_PROVIDERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        provider = getattr(module, "dashboard_panel", None)
        if provider is not None:
            panels.append(provider(team=team, membership=membership))
    return panels
