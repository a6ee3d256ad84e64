"""The one way the project derives seeds.

Every random choice of a run (principle draws, a batch's sampling, a pair's
principles) takes its seed from the run's seed plus names and numbers that say what
it is for, so the same run redone after a crash, on another worker or in another
shard layout makes the same choices. ``hash()`` is not used: it varies per process.
"""

from __future__ import annotations

import hashlib
import json


def derive_seed(*parts: int | str) -> int:
    """A stable 31-bit seed from ``parts`` (e.g. ``derive_seed(seed, "batch", b, j)``)."""
    digest = hashlib.sha256(json.dumps(list(parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


__all__ = ["derive_seed"]
