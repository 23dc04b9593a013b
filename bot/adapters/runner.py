"""Blocking turns, served from an event loop: the seam between async adapters and the manager.

`DialogueManager.handle` blocks (model calls, store round trips), so every adapter of the server
awaits `TurnRunner.run`, which answers on a bounded thread pool and keeps the loop free for other
requests. The manager may still be loading when the server starts; `ready` says when it is.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from bot.store import ConversationStore
from bot.types import Reply, Turn

__all__ = ["NotReady", "QueueFull", "TurnHandler", "TurnRunner"]

log = logging.getLogger("bot.adapters")
SLOT_POLL_SECONDS = 0.005  # how often a queued turn looks for a free thread
T = TypeVar("T")


class TurnHandler(Protocol):
    """What the adapters need of the dialogue manager: answer a turn, and the store it keeps state in
    (Slack marks delivered events there, so all workers share the marks)."""

    store: ConversationStore

    def handle(self, turn: Turn, on_piece: Callable[[str], None] | None = None) -> Reply:
        """The reply; `on_piece` (given by `TurnRunner.stream` only) gets its text as it is produced."""


class NotReady(RuntimeError):
    """The manager is still being built (the model loads at start-up), or building it failed."""


class QueueFull(RuntimeError):
    """Every worker thread is busy and `queue_size` turns already wait: the caller should retry later."""

    def __init__(self, waiting: int) -> None:
        super().__init__(f"{waiting} turns are already waiting for the model")
        self.waiting = waiting


class TurnRunner:
    """Runs a TurnHandler's blocking calls on `threads` worker threads.

    Give a built `handler`, or `build` (called once on a background thread by `start`). At most
    `threads + queue_size` turns are admitted at once (None: no bound); a turn still waiting for a
    thread is dropped when its awaiting task is cancelled (its client hung up).
    """

    def __init__(self, handler: TurnHandler | None = None, *, build: Callable[[], TurnHandler] | None = None,
                 threads: int = 4, queue_size: int | None = None) -> None:
        if (handler is None) == (build is None):
            raise ValueError("give exactly one of a handler or a build function (not both)")
        self._handler, self._build = handler, build
        self._threads, self.queue_size = threads, queue_size
        self._admitted = 0  # turns admitted and not yet finished or dropped
        self._running = 0  # of those, turns a thread has taken
        self._abandoned = 0  # of those, turns whose client went away while they ran
        self._count_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # made on first use, so a closed runner can reopen
        self.error: BaseException | None = None
        self._started = False

    @property
    def ready(self) -> bool:
        return self._handler is not None

    @property
    def handler(self) -> TurnHandler:
        if self._handler is None:
            raise NotReady("the bot is still starting" if self.error is None else f"start-up failed: {self.error}")
        return self._handler

    def start(self, on_failure: Callable[[BaseException], None] | None = None) -> None:
        """Build the handler on a daemon thread (so Ctrl-C during a model load exits at once); once."""
        if self._build is not None and not self._started:
            self._started = True
            threading.Thread(target=self._build_now, args=(on_failure,), name="bot-build", daemon=True).start()

    def _build_now(self, on_failure: Callable[[BaseException], None] | None) -> None:
        try:
            self._handler = self._build()  # type: ignore[misc]
            log.info("bot is ready")
        except BaseException as err:  # noqa: BLE001 - reported through readiness and on_failure
            self.error = err
            log.error("the bot could not start: %s", err)
            if on_failure is not None:
                on_failure(err)

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on the pool, awaited from the event loop."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="bot-turn")
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    @property
    def full(self) -> bool:
        """True when a new turn would be refused with QueueFull."""
        return self.queue_size is not None and self.waiting >= self.queue_size

    @property
    def waiting(self) -> int:
        """Turns admitted that no thread has taken yet."""
        return self._admitted - self._running

    def _has_thread(self) -> bool:
        # A turn whose client hung up while it ran keeps its thread, and lends the queue a spare one
        # (at most `threads` spares): abandoned work never holds up a live client's turn.
        return self._running < self._threads + min(self._abandoned, self._threads)

    async def run(self, turn: Turn, on_piece: Callable[[str], None] | None = None) -> Reply:
        """The manager's reply to `turn`; raises NotReady while the manager is being built and
        QueueFull when the queue is full. Cancelled before a thread takes it, the turn never runs.
        `on_piece` is called on the turn's thread with the reply's pieces (see `stream`)."""
        handler = self.handler
        with self._count_lock:
            if self.full:
                raise QueueFull(self.waiting)
            self._admitted += 1
        try:
            while not self._has_thread():
                await asyncio.sleep(SLOT_POLL_SECONDS)
        except asyncio.CancelledError:
            self._count(admitted=-1)
            log.info("conversation %r: turn dropped before it started (its client went away)", turn.conversation_id)
            raise
        self._count(running=+1)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads * 2, thread_name_prefix="bot-turn")
        future = self._pool.submit(handler.handle, turn) if on_piece is None else \
            self._pool.submit(handler.handle, turn, on_piece)
        abandoned: list[bool] = []  # set once, under the lock, if its client goes away first
        future.add_done_callback(lambda _: self._count(admitted=-1, running=-1, abandoned=-len(abandoned)))
        try:
            return await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            with self._count_lock:
                if not future.done():
                    abandoned.append(True)
                    self._abandoned += 1
            log.info("conversation %r: its client went away while the turn ran; it finishes on its own "
                     "thread and a spare thread serves the queue", turn.conversation_id)
            raise

    def _count(self, *, admitted: int = 0, running: int = 0, abandoned: int = 0) -> None:
        with self._count_lock:
            self._admitted += admitted
            self._running += running
            self._abandoned += abandoned

    async def seen(self, key: str, ttl_seconds: int) -> bool:
        """Mark `key` in the manager's store; True if some worker marked it before."""
        return await self.store_call(self.handler.store.seen, key, ttl_seconds)

    async def store_call(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """A short store round trip, on the loop's default threads (never queued behind turns)."""
        return await asyncio.to_thread(function, *args, **kwargs)

    async def stream(self, turn: Turn) -> AsyncIterator[str | Reply]:
        """The reply's text in pieces as they are produced (a generated reply token by token while
        the model writes it), then the whole Reply. Admission, queueing and a client going away work
        as in `run`: closing the stream early cancels the turn like a cancelled `run`."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        task = asyncio.ensure_future(self.run(turn, lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)))
        task.add_done_callback(lambda _: pieces.put_nowait(None))  # after every piece the turn's thread sent
        try:
            while (piece := await pieces.get()) is not None:
                yield piece
            yield await task
        finally:
            task.cancel()  # a no-op once it is done

    def close(self) -> None:
        """Stop the worker threads once their turns finish (an app's lifespan may start it again)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
