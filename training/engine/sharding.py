"""The one shard splitter of the project (plain Python, no Django)."""

from __future__ import annotations

import math


def split_evenly(n: int, shard_size: int) -> list[tuple[int, int]]:
    """Near-equal contiguous ranges of at most ``shard_size`` items covering ``0..n``.

    ``run_start`` plans every kind's shards with it, and the tests exercise this same
    function: ``ceil(n / shard_size)`` shards whose sizes differ by at most one (no
    stub shard at the end).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be an integer >= 1, got {shard_size!r}")
    count = max(1, math.ceil(n / shard_size))
    base, extra = divmod(n, count)
    ranges, start = [], 0
    for s in range(count):
        size = base + (1 if s < extra else 0)
        ranges.append((start, start + size))
        start += size
    return ranges


__all__ = ["split_evenly"]
