"""The memory store's sliding window, on a clock the test moves."""

from __future__ import annotations

import pytest

from bot.store.window import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_admits_n_hits_then_says_how_long_to_wait() -> None:
    clock = Clock()
    window = SlidingWindow(clock=clock)

    admitted = [window.hit("a", 3, 10.0) for _ in range(3)]
    clock.now += 4
    refused = window.hit("a", 3, 10.0)
    clock.now += 6  # the first hit leaves the window
    again = window.hit("a", 3, 10.0)

    assert admitted == [0.0, 0.0, 0.0]
    assert refused == pytest.approx(6.0)
    assert again == 0.0


def test_keys_are_counted_apart_and_memory_stays_bounded() -> None:
    window = SlidingWindow(max_keys=2, clock=Clock())

    assert [window.hit(key, 1, 60.0) for key in ("a", "b", "a")] == [0.0, 0.0, pytest.approx(60.0)]
    window.hit("c", 1, 60.0)  # a third key: the least recently used ("b") is forgotten
    assert window.hit("b", 1, 60.0) == 0.0


@pytest.mark.parametrize("args", [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_nonsense_limits_are_refused(args: tuple[int, float]) -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        SlidingWindow().hit("a", *args)
