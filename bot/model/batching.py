"""Request batching: turns that arrive together from many threads are read in one batch.

Serving runs each turn in its own thread (the dialogue manager is synchronous); every model read
goes through one `ReadBatcher`, whose worker thread gathers what is queued and reads it with
`read_mixed`, rows of different skills side by side. How long a batch waits for more: a turn in
flight (`turn()`) with no read queued is known to be about to read (a turn is a route read, a
little Python, then a skill read), so the batch waits for it, up to `gather_seconds`; once every
turn in flight has its read queued, or a turn ends, only `wait_seconds` is left for reads of
turns not yet begun (and reads made outside a turn). `max_batch=1` is one-at-a-time, the
baseline `bot bench serve` compares against.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from bot.model.reader import Reading
from bot.model.readers import AnyReader, read_mixed

__all__ = ["ReadBatcher"]

T = TypeVar("T")


@dataclass
class _Request:
    reader: AnyReader
    text: str
    future: Future = field(default_factory=Future)
    thread: int = field(default_factory=threading.get_ident)  # one turn may queue several reads


class ReadBatcher:
    """Owns the model: reads are batched on one worker thread; other model work takes `exclusive`."""

    def __init__(self, *, max_batch: int = 16, wait_seconds: float = 0.005, gather_seconds: float = 0.05) -> None:
        if max_batch < 1 or wait_seconds < 0 or gather_seconds < 0:
            raise ValueError("max_batch must be >= 1, wait_seconds and gather_seconds >= 0")
        self.max_batch, self.wait_seconds, self.gather_seconds = max_batch, wait_seconds, gather_seconds
        # how reads were grouped, as counters (bounded for the life of a server): size -> batches
        self.batch_sizes: Counter[int] = Counter()
        self.decoded_tokens = 0
        self._pending: deque[_Request] = deque()
        self._changed = threading.Condition()  # guards _pending, _turns and _closed
        self._turns = 0  # turns in flight (see `turn`)
        self._closed = False
        self._model_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="read-batcher", daemon=True)
        self._worker.start()

    @property
    def mean_batch(self) -> float:
        """Reads per forward batch so far (0 before the first)."""
        batches = sum(self.batch_sizes.values())
        return sum(size * n for size, n in self.batch_sizes.items()) / batches if batches else 0.0

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Mark a turn in flight: until it ends, a batch gathering reads waits for its next one."""
        with self._changed:
            self._turns += 1
        try:
            yield
        finally:
            with self._changed:
                self._turns -= 1
                self._changed.notify()

    def read(self, reader: AnyReader, text: str) -> Reading:
        """Block until this turn is read (in whatever batch it joined); errors are re-raised here."""
        return self.submit(reader, text).result()

    def submit(self, reader: AnyReader, text: str) -> Future[Reading]:
        """Queue a read without waiting for it: reads of one turn submitted before any is waited on
        go in one batch (a turn's route and the reading it may need whatever the route says)."""
        request = _Request(reader, text)
        with self._changed:
            if self._closed:
                raise RuntimeError("this ReadBatcher is closed; reads go through the bot's open batcher")
            self._pending.append(request)
            self._changed.notify()
        return request.future

    def exclusive(self, work: Callable[[], T]) -> T:
        """Run other model work (free text generation) between batches."""
        with self._model_lock:
            return work()

    def close(self) -> None:
        """Read what is queued, then stop the worker."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._worker.join(timeout=30)

    def _run(self) -> None:
        while batch := self._gather():
            self._read(batch)

    def _gather(self) -> list[_Request]:
        """The next batch: wait for a first read, then for more while more are known to be coming
        (or, outside turns, for `wait_seconds`). Empty once closed with nothing queued."""
        with self._changed:
            while not self._pending and not self._closed:
                self._changed.wait()
            began = time.monotonic()
            while self._pending and len(self._pending) < self.max_batch and not self._closed:
                left = began + self._patience() - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return [self._pending.popleft() for _ in range(min(len(self._pending), self.max_batch))]

    def _patience(self) -> float:
        """How long this batch may wait in all: `gather_seconds` while a turn in flight has no read
        queued yet, else `wait_seconds` (for reads of turns not begun yet, or made outside turns).
        Queued reads are counted by thread: a turn that submitted two reads is one turn served."""
        if self._turns > len({request.thread for request in self._pending}):
            return max(self.gather_seconds, self.wait_seconds)
        return self.wait_seconds

    def _read(self, batch: list[_Request]) -> None:
        try:
            with self._model_lock:
                readings = read_mixed([(r.reader, r.text) for r in batch])
        except BaseException as err:  # the callers get the error; the worker lives on
            for request in batch:
                request.future.set_exception(err)
            return
        self.batch_sizes[len(batch)] += 1
        self.decoded_tokens += sum(r.tokens for r in readings)
        for request, reading in zip(batch, readings):
            request.future.set_result(reading)
