"""Which models stay loaded in a worker process: one policy for every kind.

A model load costs seconds on CPU and minutes on a GPU, so a worker keeps the
models it used last (least recently used first out), up to
``settings.WORKER_RESIDENT_MODELS`` (default 2: a labelling run's policy and judge
stay loaded side by side instead of being swapped every batch). A kind that needs
several models at once asks for them together with :func:`backends_for`; they stay
loaded together even past the limit, and everything else is closed first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import OrderedDict
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

_LOADED: OrderedDict[str, Any] = OrderedDict()
BACKEND_LOADS = {"count": 0}


def _key(spec: Any) -> str:
    return json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)


def _capacity() -> int:
    return max(1, int(getattr(settings, "WORKER_RESIDENT_MODELS", 2)))


def _close(key: str) -> None:
    backend = _LOADED.pop(key)
    try:
        backend.close()
    except Exception:  # noqa: BLE001 - freeing memory must not fail a run
        logger.exception("closing a loaded backend failed")


def backends_for(*specs: Any) -> list[Any]:
    """The backends for ``specs`` (ModelSpec), loading what is missing, evicting others."""
    from training.engine.backends import load_backend

    wanted = [_key(s) for s in specs]
    keep = max(_capacity(), len(set(wanted)))
    out = []
    for key, spec in zip(wanted, specs, strict=True):
        if key in _LOADED:
            _LOADED.move_to_end(key)
        else:
            while len(_LOADED) >= keep:
                victim = next((k for k in _LOADED if k not in wanted), None)
                if victim is None:
                    break
                _close(victim)
            _LOADED[key] = load_backend(spec)
            BACKEND_LOADS["count"] += 1
        out.append(_LOADED[key])
    return out


def backend_for(spec: Any) -> Any:
    """One backend for ``spec``, loaded once per process while it stays resident."""
    return backends_for(spec)[0]


def backend_cache_clear() -> None:
    """Close every loaded backend (tests; a worker shutting down)."""
    for key in list(_LOADED):
        _close(key)


__all__ = ["BACKEND_LOADS", "backend_cache_clear", "backend_for", "backends_for"]
