"""An in-process store for one worker, tests and the CLI: state is lost when the process ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.store.base import ConversationStore, StoreLockTimeout, StoreSettings, check_ttl
from bot.store.window import SlidingWindow
from bot.types import ConversationState

__all__ = ["MemoryStore"]

SWEEP_SECONDS = 60.0  # how often `seen` drops expired marks, so the table cannot grow forever


class MemoryStore(ConversationStore):
    """Dict-backed store; thread safe. Expiry is honoured lazily on `clock` (monotonic seconds;
    tests pass a clock they move, so expiry is checked without waiting for it)."""

    def __init__(self, settings: StoreSettings | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(settings or StoreSettings(kind="memory"))
        self.clock = clock
        self._mutex = threading.Lock()  # guards the three tables below, never held while waiting
        self._states: dict[str, tuple[float, str]] = {}  # id -> (deadline, state JSON)
        self._marks: dict[str, float] = {}  # key -> deadline
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # id -> (lock, holders + waiters)
        self._data: dict[str, str] = {}  # user data (bot/store/user_data.py), no expiry
        self._window = SlidingWindow(clock=clock)  # rate limits; bounded by its own least-recently-used rule
        self._next_sweep = clock() + SWEEP_SECONDS

    @contextmanager
    def lock(self, conversation_id: str) -> Iterator[None]:
        """A per-conversation lock. lock_timeout does not apply: a `with` block always releases it."""
        lock = self._share_lock(conversation_id, +1)
        try:
            if not lock.acquire(timeout=self.settings.lock_wait_seconds):
                raise StoreLockTimeout(conversation_id, self.settings.lock_wait_seconds)
            try:
                yield
            finally:
                lock.release()
        finally:
            self._share_lock(conversation_id, -1)

    def _share_lock(self, conversation_id: str, change: int) -> threading.Lock:
        """Count users of a conversation's lock, dropping it with the last one (bounded memory)."""
        with self._mutex:
            lock, users = self._locks.get(conversation_id) or (threading.Lock(), 0)
            if users + change:
                self._locks[conversation_id] = (lock, users + change)
            else:
                del self._locks[conversation_id]
            return lock

    def load(self, conversation_id: str) -> ConversationState:
        with self._mutex:
            deadline, raw = self._states.get(conversation_id, (0.0, ""))
            if deadline <= self.clock():
                self._states.pop(conversation_id, None)
                return ConversationState(conversation_id=conversation_id)
        # Stored as JSON so that a loaded state changes nothing until it is saved, as with Redis.
        return ConversationState.model_validate_json(raw)

    def save(self, state: ConversationState) -> None:
        raw = state.model_dump_json()
        with self._mutex:
            self._states[state.conversation_id] = (self.clock() + self.settings.expiry_seconds, raw)

    def seen(self, key: str, ttl_seconds: int) -> bool:
        now = self.clock()
        with self._mutex:
            self._sweep(now)
            check_ttl(ttl_seconds)
            if self._marks.get(key, 0.0) > now:
                return True
            self._marks[key] = now + ttl_seconds
            return False

    def marked(self, key: str) -> bool:
        with self._mutex:
            return self._marks.get(key, 0.0) > self.clock()

    def hit(self, key: str, limit: int, window_seconds: float) -> float:
        with self._mutex:
            return self._window.hit(key, limit, window_seconds)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._marks = {key: deadline for key, deadline in self._marks.items() if deadline > now}
        self._states = {key: entry for key, entry in self._states.items() if entry[0] > now}
        self._next_sweep = now + SWEEP_SECONDS

    def read_data(self, key: str) -> str | None:
        with self._mutex:
            return self._data.get(key)

    def write_data(self, key: str, value: str) -> None:
        with self._mutex:
            self._data[key] = value

    def ping(self) -> None:
        """Always answers: the memory store cannot be unreachable."""

    def close(self) -> None:
        with self._mutex:
            self._states.clear()
            self._marks.clear()
