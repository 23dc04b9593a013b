"""A clock the test moves: the memory store's expiry and rate window read it instead of time.
Imported by name (the adapter tests' helpers are too); the fixture lives in conftest.py."""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
