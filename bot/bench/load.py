"""`bot bench load`: several `bot serve` workers on one Redis, many conversations, one worker killed.

    report = run_load(LoadSettings(workers=3, conversations=1000, turns=5, kill=True))

Starts a redis-server (or uses `redis_url`) and `workers` processes of `bot.bench.load_worker` (the
real HTTP app, dialogue manager and Redis store; a scripted model by default, since that measures
serving and the shared store; `model="real"` runs the embedded model and the shipped skills). Then
`conversations` clients talk at once, `concurrency` requests in flight, each turn to a random worker
with its own turn_id; a failed request (connection error, 5xx, 429) is sent again to another worker
with the same turn_id. After `kill_at` of the turns are acknowledged the worker with the most
requests in flight is SIGKILLed, and/or redis-server is restarted or paused (`redis_fault`). At the
end every conversation's replies and stored history must show each turn applied exactly once and
in order.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx

from bot.bench.load_check import TurnLog, Verdict, verify
from bot.bench.load_report import LoadReport, LoadSettings, load_table, write_load_report
from bot.bench.load_worker import START_SECONDS, RedisProcess, WorkerPool
from bot.store import StoreSettings, open_store
from bot.tuning.metrics import percentile

# LoadSettings, LoadReport and the report's rendering live in bot/bench/load_report.py; re-exported.
__all__ = ["Driver", "LoadReport", "LoadSettings", "load_table", "run_load", "verify", "write_load_report"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 2.0
DOWN_SECONDS = 5.0  # a worker that refused a connection is skipped this long, then tried again
REAL_START_SECONDS = 240.0  # workers that each load the model, on a shared CPU


def run_load(settings: LoadSettings, *, log_dir: Path | None = None,
             on_event: Callable[[str], None] = lambda message: None) -> LoadReport:
    """Start Redis and the workers, drive the conversations, verify them in Redis, stop everything."""
    started = time.monotonic()
    with ExitStack() as stack:
        logs = log_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bot-load-")))
        logs.mkdir(parents=True, exist_ok=True)
        redis = None if settings.redis_url else RedisProcess(logs, durable=settings.redis_fault == "restart")
        if redis is not None:
            stack.callback(redis.stop)
        url = settings.redis_url or redis.url  # type: ignore[union-attr]
        prefix = f"load-{uuid.uuid4().hex[:10]}:"
        options = ["--history-turns", str(settings.turns), "--lock-timeout", str(settings.lock_timeout_seconds),
                   "--lock-wait", str(settings.lock_wait_seconds), "--model", settings.model]
        pool = WorkerPool(settings.workers, url, prefix, logs, options=options)
        stack.callback(pool.close)
        pool.wait_ready(REAL_START_SECONDS if settings.model == "real" else START_SECONDS)
        on_event(f"{settings.workers} workers ready on ports {', '.join(map(str, pool.ports))} (logs in {logs})")
        driver = Driver(settings, pool, on_event, redis)
        conversations = asyncio.run(driver.run())
        redelivered = {"repeated": pool.count_in_logs("delivered again; repeating its reply"),
                       "unanswered": pool.count_in_logs("was delivered before but never answered")}
        store = stack.enter_context(open_store(StoreSettings(kind="redis", url=url, key_prefix=prefix)))
        verdict = verify(conversations, store, numbered=settings.model == "scripted")
    return _report(settings, driver, conversations, verdict, redelivered, time.monotonic() - started)


class Driver:
    """The clients: every conversation sends its turns in order; requests share `concurrency` slots."""

    def __init__(self, settings: LoadSettings, pool: WorkerPool, on_event: Callable[[str], None],
                 redis: RedisProcess | None = None) -> None:
        self.settings, self.pool, self.on_event, self.redis = settings, pool, on_event, redis
        self.faulted = False
        self.rng = random.Random(settings.seed)
        self.down_until = {url: 0.0 for url in pool.urls}
        self.acknowledged = 0
        self.kill_after = math.ceil(settings.kill_at * settings.conversations * settings.turns)
        self.killed_port: int | None = None
        self.killed_after: int | None = None
        self.in_flight: Counter[str] = Counter()  # requests sent to each worker and not yet answered
        self.killed_in_flight = 0
        self.drive_seconds = 0.0
        self.deadline = math.inf

    async def run(self) -> dict[str, list[TurnLog]]:
        """Each conversation's turns, in the order they were sent."""
        self.slots = asyncio.Semaphore(self.settings.concurrency)
        limits = httpx.Limits(max_connections=self.settings.concurrency,
                              max_keepalive_connections=self.settings.concurrency)
        started = time.monotonic()
        self.deadline = started + self.settings.max_seconds
        async with httpx.AsyncClient(timeout=self.settings.request_seconds, limits=limits) as client:
            ids = [f"c{number}" for number in range(self.settings.conversations)]
            logs = await asyncio.gather(*(self._conversation(client, cid) for cid in ids))
        self.drive_seconds = time.monotonic() - started
        return dict(zip(ids, logs))

    async def _conversation(self, client: httpx.AsyncClient, cid: str) -> list[TurnLog]:
        turns = [TurnLog(number, f"{cid}-t{number}", self.settings.text(cid, number))
                 for number in range(1, self.settings.turns + 1)]
        for turn in turns:
            if time.monotonic() > self.deadline:
                break
            await self._send(client, cid, turn)
            if turn.outcome != "acknowledged":
                break  # a later turn would answer a conversation the client no longer knows
        return turns

    async def _send(self, client: httpx.AsyncClient, cid: str, turn: TurnLog) -> None:
        """Send until a 200; a failure goes again, with the same turn_id, to another worker.

        The turn keeps its slot while it retries: a retry that queued behind every other
        conversation's turn would measure the client's queue, not the servers.
        """
        body, path = {"text": turn.text, "turn_id": turn.turn_id}, f"/v1/conversations/{cid}/messages"
        async with self.slots:
            started, avoid = time.monotonic(), None
            while True:
                url = self._pick(avoid)  # picked once the request can go, so a dead worker is known by then
                turn.attempts += 1
                self.in_flight[url] += 1
                try:
                    cause, wait = await self._post(client, url, path, body, turn)
                finally:
                    self.in_flight[url] -= 1
                if cause is None:
                    turn.outcome, turn.seconds = "acknowledged", time.monotonic() - started
                    self._acknowledged()
                    return
                turn.causes.append(cause)
                if wait == math.inf or time.monotonic() - started > self.settings.turn_seconds:
                    turn.outcome = "failed"
                    return
                if time.monotonic() + wait > self.deadline:
                    return  # out of time: unfinished
                avoid = url
                await asyncio.sleep(wait)

    async def _post(self, client: httpx.AsyncClient, worker: str, path: str, body: Mapping[str, str],
                    turn: TurnLog) -> tuple[str | None, float]:
        """(None, 0) on a 200 (the reply kept in `turn`), else (cause, seconds to wait before retrying)."""
        try:
            response = await client.post(worker + path, json=body)
        except httpx.TransportError as err:
            if isinstance(err, httpx.ConnectError):  # nobody listens: skip that worker for a while
                self.down_until[worker] = time.monotonic() + DOWN_SECONDS
            return type(err).__name__, 0.02 * min(len(turn.causes) + 1, 10)
        if response.status_code == 200:
            turn.reply = response.json()["text"]
            return None, 0.0
        if response.status_code not in RETRY_STATUSES:
            return f"{response.status_code}", math.inf  # a client mistake: retrying would not help
        retry_after = response.headers.get("Retry-After", "")
        wait = float(retry_after) if retry_after.isdigit() else 0.2
        return f"{response.status_code}", min(wait, MAX_BACKOFF_SECONDS)

    def _pick(self, avoid: str | None) -> str:
        """A random worker not known to be down, other than the one that just failed when possible."""
        now = time.monotonic()
        live = [url for url, until in self.down_until.items() if until <= now] or list(self.down_until)
        return self.rng.choice([url for url in live if url != avoid] or live)

    def _acknowledged(self) -> None:
        self.acknowledged += 1
        if self.acknowledged >= self.kill_after and not self.faulted:
            self.faulted = True
            self._redis_fault()
        if self.settings.kill and self.killed_port is None and self.acknowledged >= self.kill_after:
            victim = self._victim()
            self.killed_in_flight = self.in_flight[self.pool.urls[victim]]
            self.killed_port, self.killed_after = self.pool.kill(victim), self.acknowledged
            self.on_event(f"killed the worker on port {self.killed_port} (SIGKILL) after {self.acknowledged} "
                          f"acknowledged turns, with {self.killed_in_flight} requests in flight to it")

    def _victim(self) -> int:
        """The worker with the most requests in flight (ties at random): the kill cuts turns off mid-answer."""
        loads = [self.in_flight[url] for url in self.pool.urls]
        return self.rng.choice([index for index, load in enumerate(loads) if load == max(loads)])

    def _redis_fault(self) -> None:
        """Restart or pause redis-server, off the event loop, while turns are in flight."""
        loop, redis, fault = asyncio.get_running_loop(), self.redis, self.settings.redis_fault
        if redis is None or fault == "none":
            return
        if fault == "restart":
            loop.run_in_executor(None, redis.restart)
            self.on_event(f"redis-server SIGKILLed after {self.acknowledged} acknowledged turns; restarting it")
        else:
            redis.pause()
            loop.call_later(self.settings.pause_seconds, redis.resume)
            self.on_event(f"redis-server paused (SIGSTOP) for {self.settings.pause_seconds:g} s after "
                          f"{self.acknowledged} acknowledged turns")


def _report(settings: LoadSettings, driver: Driver, conversations: Mapping[str, Sequence[TurnLog]],
            verdict: Verdict, redelivered: Mapping[str, int], wall_seconds: float) -> LoadReport:
    turns = [turn for log in conversations.values() for turn in log]
    acked = [turn.seconds * 1000 for turn in turns if turn.outcome == "acknowledged"]
    causes = Counter(cause for turn in turns for cause in turn.causes)
    outcomes = Counter(turn.outcome for turn in turns)
    return LoadReport(
        settings=settings, command=settings.command(),
        machine=f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, Python {platform.python_version()}",
        sent=sum(1 for turn in turns if turn.attempts), acknowledged=len(acked),
        retried=sum(1 for turn in turns if turn.attempts > 1), retries=sum(causes.values()),
        retry_causes=dict(causes.most_common()), failed=outcomes["failed"], unfinished=outcomes["unfinished"],
        lost=verdict.lost, duplicated=verdict.duplicated, reordered=verdict.reordered,
        mismatched=verdict.mismatched, killed_port=driver.killed_port,
        killed_after=driver.killed_after,
        killed_in_flight=driver.killed_in_flight if driver.killed_port else None,
        repeated=redelivered["repeated"], unanswered=redelivered["unanswered"],
        throughput=len(acked) / driver.drive_seconds if driver.drive_seconds else 0.0,
        p50_ms=percentile(acked, 0.5) if acked else 0.0, p95_ms=percentile(acked, 0.95) if acked else 0.0,
        max_ms=max(acked, default=0.0), drive_seconds=driver.drive_seconds, wall_seconds=wall_seconds,
        problems=verdict.problems)
