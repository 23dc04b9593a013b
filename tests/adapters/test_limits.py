"""The per-conversation rate limit, on a clock the test moves."""

from __future__ import annotations

import pytest

from bot.adapters.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_admits_n_hits_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 10.0, clock=clock)

    admitted = [limiter.hit("a") for _ in range(3)]
    clock.now += 4
    refused = limiter.hit("a")
    clock.now += 6  # the first hit leaves the window
    again = limiter.hit("a")

    assert admitted == [0.0, 0.0, 0.0]
    assert refused == pytest.approx(6.0)
    assert again == 0.0


def test_conversations_are_counted_apart_and_memory_stays_bounded() -> None:
    limiter = RateLimiter(1, 60.0, max_keys=2, clock=Clock())

    assert [limiter.hit(key) for key in ("a", "b", "a")] == [0.0, 0.0, pytest.approx(60.0)]
    limiter.hit("c")  # a third key: the least recently used ("b") is forgotten
    assert limiter.hit("b") == 0.0


@pytest.mark.parametrize("args", [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_nonsense_limits_are_refused(args: tuple[int, float]) -> None:
    with pytest.raises(ValueError, match="turns >= 1"):
        RateLimiter(*args)
