"""A sliding-window hit counter in process memory: the memory store's rate limit.

The Redis store counts the same way in Redis (one script), so every worker shares one count.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["SlidingWindow", "check_limit"]


def check_limit(limit: int, window_seconds: float) -> None:
    """Both stores refuse a nonsense limit the same way."""
    if limit < 1 or window_seconds <= 0:
        raise ValueError(f"need limit >= 1 and window_seconds > 0; got {limit}, {window_seconds}")


class SlidingWindow:
    """At most `limit` hits per key in any `window_seconds`; remembers at most `max_keys` keys (the
    least recently used are forgotten first, so memory stays bounded). Not thread safe by itself."""

    def __init__(self, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError(f"need max_keys >= 1, got {max_keys}")
        self.max_keys, self.clock = max_keys, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str, limit: int, window_seconds: float) -> float:
        """Count one hit for `key`: 0.0 if allowed, else the seconds until the next one would be."""
        check_limit(limit, window_seconds)
        now = self.clock()
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - window_seconds:
            hits.popleft()
        self._hits[key] = hits  # re-inserted: now the most recently used key
        if len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        if len(hits) >= limit:
            return max(hits[0] + window_seconds - now, 0.001)
        hits.append(now)
        return 0.0
