"""Pick principles for critique-revision and RL-CAI runs.

The rule (docs/sampling.md): draw a category in proportion to its weight among
the categories that can be drawn, then a principle in proportion to its weight
among the enabled principles of that category. Draws are deterministic for a
seed on every platform: numpy's PCG64 bit generator, uniform doubles, and a
binary search in the cumulative distribution.
"""

from __future__ import annotations

from constitutions.content import ConstitutionContent, ContentError, PrincipleSpec, validate_content


def _check(content: ConstitutionContent) -> None:
    problems = validate_content(content)
    if problems:
        raise ContentError(problems)


def _drawable(p: PrincipleSpec) -> bool:
    return p.enabled and p.weight > 0


def category_probabilities(content: ConstitutionContent) -> dict[str, float]:
    """Return each category's chance of being drawn, in display order (0 where undrawable).

    A category can be drawn when its weight is positive and it holds at least one
    enabled principle with positive weight.
    """
    _check(content)
    live = {p.category for p in content.principles if _drawable(p)}
    weights = {
        c.name: float(c.weight) if c.weight > 0 and c.name in live else 0.0
        for c in content.categories
    }
    total = sum(weights.values())
    if total <= 0:
        raise ContentError(f"no principle can be drawn: {_why_nothing(content)}")
    return {name: w / total for name, w in weights.items()}


def principle_probabilities(content: ConstitutionContent) -> dict[str, float]:
    """Return each principle's chance of being drawn, keyed by principle key in display order.

    P(principle) = P(its category) * weight / (sum of enabled principle weights in
    the category). Disabled principles and principles of zero-weight categories get 0.
    Raises ContentError when nothing can be drawn.
    """
    cat_p = category_probabilities(content)
    within: dict[str, float] = {}
    for p in content.principles:
        if _drawable(p):
            within[p.category] = within.get(p.category, 0.0) + float(p.weight)
    return {
        p.key: cat_p[p.category] * float(p.weight) / within[p.category] if _drawable(p) else 0.0
        for p in content.principles
    }


def _why_nothing(content: ConstitutionContent) -> str:
    if not content.principles:
        return "the constitution has no principles"
    if not any(_drawable(p) for p in content.principles):
        return "every principle is disabled or has weight 0"
    return "every category that holds an enabled principle with positive weight has weight 0"


def _check_seed(seed: int) -> None:
    import numpy as np

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _check_n(n: int) -> None:
    import numpy as np

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")


class PrincipleSampler:
    """A seeded stream of principle draws from one constitution.

    ``draw()`` and ``draw_many(n)`` share one random stream: each is deterministic
    for a seed, but n single draws need not equal one ``draw_many(n)``.
    """

    def __init__(self, content: ConstitutionContent, seed: int) -> None:
        import numpy as np

        _check_seed(seed)
        probs = principle_probabilities(content)
        self._principles = [p for p in content.principles if probs[p.key] > 0]
        cdf = np.cumsum([probs[p.key] for p in self._principles], dtype=np.float64)
        # Normalise the last bin to exactly 1 so every uniform in [0, 1) lands in a bin.
        cdf /= cdf[-1]
        cdf[-1] = 1.0
        self._cdf = cdf
        self._rng = np.random.Generator(np.random.PCG64(int(seed)))

    def draw(self) -> PrincipleSpec:
        """Draw one principle."""
        import numpy as np

        u = self._rng.random()
        return self._principles[int(np.searchsorted(self._cdf, u, side="right"))]

    def draw_many(self, n: int) -> list[PrincipleSpec]:
        """Draw ``n`` principles at once (vectorised)."""
        import numpy as np

        _check_n(n)
        idx = np.searchsorted(self._cdf, self._rng.random(int(n)), side="right")
        principles = self._principles
        return [principles[i] for i in idx.tolist()]


def sample_principles(content: ConstitutionContent, n: int, seed: int) -> list[PrincipleSpec]:
    """Draw ``n`` principles with a fixed seed: the same list for the same inputs, everywhere."""
    _check_n(n)
    return PrincipleSampler(content, seed).draw_many(n)
