"""Pick principles for critique-revision and RL-CAI runs.

The rule (docs/sampling.md): draw a category in proportion to its weight among
the categories that can be drawn, then a principle in proportion to its weight
among the enabled principles of that category that the draw's use may take
(``Use``: critique-revision takes principles with requests, the labeller those with
a comparison question, falling back to all when none has one). Draws are deterministic for a
seed on every platform: numpy's PCG64 bit generator, uniform doubles, and a
binary search in the cumulative distribution.
"""

from __future__ import annotations

from typing import Literal

from constitutions.content import (
    DEFAULT_COMPARISON_QUESTION,
    ConstitutionContent,
    ContentError,
    PrincipleSpec,
    validate_content,
)

# What a draw is for. "critique": a critique-revision round, which draws only principles
# with critique and revision requests. "comparison": the AI labeller, which draws only
# principles with a comparison question, or, when the constitution can draw none, falls
# back to every drawable principle asked DEFAULT_COMPARISON_QUESTION (comparison_fallback).
Use = Literal["critique", "comparison"]
USES: tuple[Use, ...] = ("critique", "comparison")
USE_LABELS: dict[str, str] = {"critique": "critique-revision", "comparison": "AI labelling"}


def _check(content: ConstitutionContent) -> None:
    problems = validate_content(content)
    if problems:
        raise ContentError(problems)


def _check_use(use: str) -> None:
    if use not in USES:
        raise ValueError(f"use must be one of {', '.join(USES)}, got {use!r}")


def _drawable(p: PrincipleSpec) -> bool:
    return p.enabled and p.weight > 0


def _live_categories(content: ConstitutionContent, test: _Test) -> set[str]:
    weighted = {c.name for c in content.categories if c.weight > 0}
    return {p.category for p in content.principles if test(p) and p.category in weighted}


class _Test:
    """Which principles a use may draw (a callable, so the fallback is decided once)."""

    def __init__(self, use: Use, fallback: bool) -> None:
        self.use = use
        self.fallback = fallback

    def __call__(self, p: PrincipleSpec) -> bool:
        if not _drawable(p):
            return False
        if self.use == "critique":
            return p.critiques
        return self.fallback or p.compares


def comparison_fallback(content: ConstitutionContent) -> bool:
    """True when no principle with a comparison question can be drawn.

    The AI labeller then draws from every drawable principle (their weights as for
    any draw) and asks each the default question, DEFAULT_COMPARISON_QUESTION; the
    version page and the labelling launch form say so.
    """
    return not _live_categories(content, _Test("comparison", fallback=False))


def _test_for(content: ConstitutionContent, use: Use) -> _Test:
    _check_use(use)
    return _Test(use, fallback=use == "comparison" and comparison_fallback(content))


def category_probabilities(content: ConstitutionContent, use: Use = "critique") -> dict[str, float]:
    """Return each category's chance of being drawn for ``use``, in display order.

    A category can be drawn when its weight is positive and it holds at least one
    enabled principle with positive weight that ``use`` may draw (0 otherwise).
    """
    _check(content)
    test = _test_for(content, use)
    live = _live_categories(content, test)
    weights = {c.name: float(c.weight) if c.name in live else 0.0 for c in content.categories}
    total = sum(weights.values())
    if total <= 0:
        raise ContentError(
            f"no principle can be drawn for {USE_LABELS[use]}: {_why_nothing(content, use)}"
        )
    return {name: w / total for name, w in weights.items()}


def principle_probabilities(
    content: ConstitutionContent, use: Use = "critique"
) -> dict[str, float]:
    """Return each principle's chance of being drawn for ``use``, keyed by key, in display order.

    P(principle) = P(its category) * weight / (sum of the weights of the principles
    of the category that ``use`` may draw). Disabled principles, principles of
    zero-weight categories and principles ``use`` may not draw get 0.
    Raises ContentError when nothing can be drawn.
    """
    cat_p = category_probabilities(content, use)
    test = _test_for(content, use)
    within: dict[str, float] = {}
    for p in content.principles:
        if test(p):
            within[p.category] = within.get(p.category, 0.0) + float(p.weight)
    return {
        p.key: cat_p[p.category] * float(p.weight) / within[p.category]
        if test(p) and cat_p.get(p.category, 0.0) > 0
        else 0.0
        for p in content.principles
    }


def question_for(principle: PrincipleSpec) -> str:
    """The question the AI labeller asks under ``principle``: its own, or the default."""
    return principle.comparison_question.strip() or DEFAULT_COMPARISON_QUESTION


def _why_nothing(content: ConstitutionContent, use: Use) -> str:
    if not content.principles:
        return "the constitution has no principles"
    if use == "critique" and not any(p.critiques for p in content.principles):
        return (
            "no principle has a critique and a revision request (every principle is labeller-only)"
        )
    if not any(_drawable(p) for p in content.principles):
        return "every principle is disabled or has weight 0"
    if use == "critique" and not any(_drawable(p) and p.critiques for p in content.principles):
        return "every principle with critique and revision requests is disabled or has weight 0"
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

    def __init__(self, content: ConstitutionContent, seed: int, use: Use = "critique") -> None:
        import numpy as np

        _check_seed(seed)
        probs = principle_probabilities(content, use)
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


def sample_principles(
    content: ConstitutionContent, n: int, seed: int, use: Use = "critique"
) -> list[PrincipleSpec]:
    """Draw ``n`` principles for ``use`` with a fixed seed: the same list for the same
    inputs, everywhere."""
    _check_n(n)
    return PrincipleSampler(content, seed, use).draw_many(n)
