"""The project's one Wilson score interval, in plain math (no numpy, scipy or statsmodels).

Both the labelling statistics (every :class:`~labelling.stats.Rate`) and the RL-CAI
evaluation (``training.engine.evaluation``) use :func:`wilson_interval`, so an
interval printed on a label set and one printed on an evaluation run mean the same
thing. The module imports only the standard library: the web process and a GPU
worker can use it without loading a statistics package.

n = 0: no observation rules any proportion out, so the interval is the whole of
[0, 1]. (The point estimate k/n is undefined there; :class:`~labelling.stats.Rate`
reports it as ``None``.) This is also the limit of the Wilson bounds as the sample
shrinks, and keeps the bounds plain floats for callers that store them.
"""

from __future__ import annotations

import math
from statistics import NormalDist

CONFIDENCE_LEVEL = 0.95


def z_for(confidence: float) -> float:
    """The two-sided standard normal quantile for ``confidence`` (1.959964 for 0.95)."""
    if isinstance(confidence, bool) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


Z_95 = z_for(CONFIDENCE_LEVEL)


def wilson_interval(
    successes: float, n: int, *, confidence: float = CONFIDENCE_LEVEL
) -> tuple[float, float]:
    """Wilson (1927) score interval of ``successes`` out of ``n``; (0.0, 1.0) when n == 0.

    centre = (p + z²/2n) / (1 + z²/n), half-width = z √(p(1−p)/n + z²/4n²) / (1 + z²/n),
    with p = successes / n; the same figures as statsmodels'
    ``proportion_confint(method="wilson")``, clipped to [0, 1] against rounding.
    ``successes`` may be fractional (the evaluation counts a tie as half a win).
    """
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(successes, bool) or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes!r}, n={n!r}")
    if n == 0:
        return 0.0, 1.0
    z = Z_95 if confidence == CONFIDENCE_LEVEL else z_for(confidence)
    p = successes / n
    z2n = z * z / n
    denom = 1 + z2n
    centre = (p + z2n / 2) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


__all__ = ["CONFIDENCE_LEVEL", "Z_95", "wilson_interval", "z_for"]
