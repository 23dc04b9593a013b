"""Request batching: turns that arrive together from many threads are read in one batch.

Serving runs each turn in its own thread (the dialogue manager is synchronous); every model read
goes through one `ReadBatcher`, whose worker thread gathers what is queued for a few milliseconds
(or up to `max_batch`) and reads it with `read_mixed`, rows of different skills side by side.
`max_batch=1` is one-at-a-time, the baseline `bot bench serve` compares against.
"""

from __future__ import annotations

import queue
from collections import Counter
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
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


class ReadBatcher:
    """Owns the model: reads are batched on one worker thread; other model work takes `exclusive`."""

    def __init__(self, *, max_batch: int = 16, wait_seconds: float = 0.005) -> None:
        if max_batch < 1 or wait_seconds < 0:
            raise ValueError("max_batch must be >= 1 and wait_seconds >= 0")
        self.max_batch, self.wait_seconds = max_batch, wait_seconds
        # how reads were grouped, as counters (bounded for the life of a server): size -> batches
        self.batch_sizes: Counter[int] = Counter()
        self.decoded_tokens = 0
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._model_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="read-batcher", daemon=True)
        self._worker.start()

    @property
    def mean_batch(self) -> float:
        """Reads per forward batch so far (0 before the first)."""
        batches = sum(self.batch_sizes.values())
        return sum(size * n for size, n in self.batch_sizes.items()) / batches if batches else 0.0

    def read(self, reader: AnyReader, text: str) -> Reading:
        """Block until this turn is read (in whatever batch it joined); errors are re-raised here."""
        request = _Request(reader, text)
        self._queue.put(request)
        return request.future.result()

    def exclusive(self, work: Callable[[], T]) -> T:
        """Run other model work (free text generation) between batches."""
        with self._model_lock:
            return work()

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=30)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            deadline = time.monotonic() + self.wait_seconds
            while len(batch) < self.max_batch:
                try:
                    request = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if request is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(request)
            self._read(batch)

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
