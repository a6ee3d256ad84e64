"""How many pairs to review for a confidence interval of a given half-width."""

from __future__ import annotations

import math

from .intervals import z_for


def sample_size_for_halfwidth(
    halfwidth: float,
    p: float = 0.5,
    confidence: float = 0.95,
    population: int | None = None,
) -> int:
    """Reviews needed so a proportion's normal-approximation CI has the given half-width.

    n0 = z^2 p (1 - p) / h^2 (z the two-sided normal quantile); with a finite
    population N, Cochran's correction n = n0 / (1 + (n0 - 1) / N). Rounded up, and
    never more than N. p = 0.5 is the worst case.
    """
    if isinstance(halfwidth, bool) or not 0.0 < halfwidth < 1.0:
        raise ValueError(f"halfwidth must be in (0, 1), got {halfwidth!r}")
    if isinstance(p, bool) or not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    if isinstance(confidence, bool) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if population is not None and (
        isinstance(population, bool) or not isinstance(population, int) or population < 1
    ):
        raise ValueError(f"population must be a positive integer or None, got {population!r}")
    z = z_for(confidence)
    n0 = z * z * p * (1 - p) / (halfwidth * halfwidth)
    if population is not None:
        n0 = n0 / (1 + (n0 - 1) / population)
    # Guard against 384.00000000001 style float noise before rounding up.
    n = math.ceil(round(n0, 9))
    return min(n, population) if population is not None else n
