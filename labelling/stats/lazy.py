"""numpy, imported on first use.

Services and selectors import this package for its light rules (``derive_label``,
the verdict codes), so every web process would load numpy at start-up (about
0.2 s on the 2-core machine) just to render a page that computes nothing. The
statistics modules take ``np`` from here instead: the real module is imported the
first time an attribute is read, then its namespace is copied in, so later reads
cost what ``numpy.x`` costs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    def __getattr__(self, name: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, name)


numpy = LazyModule("numpy")

__all__ = ["LazyModule", "numpy"]
