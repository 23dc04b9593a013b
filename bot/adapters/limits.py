"""A per-conversation rate limit (sliding window), so one chatty client cannot starve the model.

It counts within one server process; behind several workers each keeps its own count.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most `turns` hits per key in any `seconds`-long window; remembers at most `max_keys` keys
    (the least recently used are forgotten first, so memory stays bounded)."""

    def __init__(self, turns: int, seconds: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if turns < 1 or seconds <= 0 or max_keys < 1:
            raise ValueError(f"need turns >= 1, seconds > 0, max_keys >= 1; got {turns}, {seconds}, {max_keys}")
        self.turns, self.seconds, self.max_keys, self.clock = turns, seconds, max_keys, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> float:
        """Count one hit for `key`: 0.0 if allowed, else the seconds until the next one would be."""
        now = self.clock()
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        self._hits[key] = hits  # re-inserted: now the most recently used key
        if len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        if len(hits) >= self.turns:
            return max(hits[0] + self.seconds - now, 0.001)
        hits.append(now)
        return 0.0
