"""One worker of the load test: the real `bot serve` ASGI app on a Redis store, with a scripted model.

    python -m bot.bench.load_worker --port 8101 --redis-url redis://127.0.0.1:6379/0 --key-prefix load-1:

The app (`bot.adapters.http.create_app`), the dialogue manager and the Redis store are the ones
`bot serve` runs; only the model is replaced by a rule-based `ScriptedUnderstanding`, because the
load test measures serving and the shared store, not the model (which takes ~1 s a turn on a CPU).
Every reply says which turn of its conversation it answered (`turn N`), so the driver can prove
that each turn was applied exactly once and in order. `WorkerPool` and `redis_server` start,
watch and kill these processes for the driver (`bot.bench.load`).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.config import SkillConfig
from bot.dialogue import DialogueManager, Rule, ScriptedUnderstanding
from bot.errors import BotError
from bot.store import StoreSettings, StoreUnavailable, open_store
from bot.types import ConversationState, Frame

__all__ = ["LOAD_SKILL", "REAL_TEXTS", "RedisProcess", "WorkerPool", "build_manager", "count_turn", "free_port",
           "main", "redis_server"]

START_SECONDS = 30.0  # three cold Python processes on a busy 2-core machine take a few seconds

LOAD_SKILL = SkillConfig.model_validate({
    "name": "load", "description": "Answers with the conversation's turn number (the load test's check).",
    "slots": [{"name": "sent"}],
    "intents": [{"name": "count", "action": "bot.bench.load_worker:count_turn"}]})
RULES = [Rule(r"^turn (?P<sent>\d+)\b", "load", "count")]
# What a conversation says to the real model and the shipped skills (`--model real`), in order.
REAL_TEXTS = ("set an alarm for 7 am", "what is the weather in london", "play some jazz",
              "what is on my calendar tomorrow", "cancel my alarm", "will it rain in paris")


def count_turn(frame: Frame, state: ConversationState) -> str:
    """The action: the number this turn gets in its conversation, and the number the client sent."""
    return f"turn {state.turns + 1} (sent as {frame.slots.get('sent', '?')})"


def build_manager(redis_url: str, key_prefix: str, *, history_turns: int = 6, lock_timeout_seconds: float = 5.0,
                  lock_wait_seconds: float = 2.0) -> DialogueManager:
    """The real manager over Redis; the lock settings decide how soon a killed worker's lock frees."""
    store = open_store(StoreSettings(kind="redis", url=redis_url, key_prefix=key_prefix, expiry_seconds=3600,
                                     lock_timeout_seconds=lock_timeout_seconds,
                                     lock_wait_seconds=lock_wait_seconds))
    return DialogueManager({LOAD_SKILL.name: LOAD_SKILL}, ScriptedUnderstanding(RULES), store,
                           history_turns=history_turns)


def build_real_bot(redis_url: str, key_prefix: str, *, lock_timeout_seconds: float, lock_wait_seconds: float):
    """The bot `bot serve` runs (embedded model, shipped skills, router) on this run's Redis keys."""
    from bot.app import Bot
    from bot.config.settings import DEFAULT_CONFIG, load_settings

    store = open_store(StoreSettings(kind="redis", url=redis_url, key_prefix=key_prefix, expiry_seconds=3600,
                                     lock_timeout_seconds=lock_timeout_seconds, lock_wait_seconds=lock_wait_seconds))
    return Bot.from_settings(load_settings(DEFAULT_CONFIG), store=store)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until killed (the load driver SIGTERMs it, or SIGKILLs it to test a crash)."""
    import uvicorn

    from bot.adapters.http import create_app
    from bot.config.server import RateLimitConfig, ServerConfig

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"worker {args.port}: %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot.dialogue").setLevel(logging.INFO)  # redelivered turns: the driver counts them
    if args.model == "real":
        manager = build_real_bot(args.redis_url, args.key_prefix, lock_timeout_seconds=args.lock_timeout,
                                 lock_wait_seconds=args.lock_wait)
    else:
        manager = build_manager(args.redis_url, args.key_prefix, history_turns=args.history_turns,
                                lock_timeout_seconds=args.lock_timeout, lock_wait_seconds=args.lock_wait)
    # Retries count towards the per-conversation limit; the load test is no abuse to throttle.
    # The driver is one client (127.0.0.1): its per-client limit is lifted likewise.
    settings = ServerConfig(host="127.0.0.1", port=args.port, threads=args.threads,
                            rate_limit=RateLimitConfig(turns=10_000, seconds=1),
                            client_rate_limit=RateLimitConfig(turns=1_000_000, seconds=1))
    uvicorn.run(create_app(manager, settings), host=settings.host, port=settings.port, log_level="warning",
                access_log=False, timeout_graceful_shutdown=2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.load_worker", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--key-prefix", required=True, help="keys of this run, e.g. load-1234:")
    parser.add_argument("--history-turns", type=int, default=6, help="turns kept in each conversation's history")
    parser.add_argument("--lock-timeout", type=float, default=5.0, help="seconds a dead holder's lock lasts")
    parser.add_argument("--lock-wait", type=float, default=2.0, help="seconds a turn waits for the lock")
    parser.add_argument("--threads", type=int, default=4, help="turns answered at once")
    parser.add_argument("--model", choices=["scripted", "real"], default="scripted",
                        help="scripted rules, or the embedded model with the shipped skills")
    return parser


def free_port() -> int:
    """A loopback port nobody listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(condition: Callable[[], bool], seconds: float, what: str, log_path: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path and log_path.exists() else ""
            raise BotError(f"{what} did not start within {seconds:g} s" + (f"; its log ends:\n{tail}" if tail else ""))
        time.sleep(0.05)


@contextmanager
def redis_server(log_dir: Path, *, durable: bool = False) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (no persistence unless `durable`); yields its URL."""
    server = RedisProcess(log_dir, durable=durable)
    try:
        yield server.url
    finally:
        server.stop()


class RedisProcess:
    """A redis-server this process owns, which the fault scenarios restart and pause.

    `durable` turns on the append-only file with a sync per write, so a restart (even after SIGKILL)
    keeps every write Redis acknowledged, as a production Redis configured for it would.
    """

    def __init__(self, log_dir: Path, *, durable: bool = False) -> None:
        self.exe = shutil.which("redis-server")
        if self.exe is None:
            raise BotError("redis-server is not installed\n  fix: apt-get install redis-server (or `make redis`), "
                           "or pass --redis-url to use a running Redis")
        self.port, self.log_path, self.log_dir, self.durable = free_port(), log_dir / "redis.log", log_dir, durable
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.log_dir)]
                       if self.durable else ["--appendonly", "no"])
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                             *persistence], stdout=log, stderr=subprocess.STDOUT)
        process = self.process
        _wait(lambda: process.poll() is None and _redis_answers(self.url), START_SECONDS, "redis-server",
              self.log_path)

    def restart(self, down_seconds: float = 1.0) -> None:
        """SIGKILL the server, stay down `down_seconds`, start it again on the same port."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
        time.sleep(down_seconds)
        self.start()

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung Redis)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None:
            return
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


def _redis_answers(url: str) -> bool:
    try:
        open_store(StoreSettings(kind="redis", url=url, socket_timeout_seconds=0.5)).close()
        return True
    except StoreUnavailable:
        return False


class WorkerPool:
    """`count` load workers on free loopback ports, one Redis; each logs to `log_dir`/worker-PORT.log."""

    def __init__(self, count: int, redis_url: str, key_prefix: str, log_dir: Path, *,
                 options: Sequence[str] = ()) -> None:
        self.ports = [free_port() for _ in range(count)]
        self.log_dir = log_dir
        self.killed: set[int] = set()
        self.processes = [self._spawn(port, redis_url, key_prefix, options) for port in self.ports]

    def _spawn(self, port: int, redis_url: str, key_prefix: str, options: Sequence[str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "bot.bench.load_worker", "--port", str(port), "--redis-url", redis_url,
                   "--key-prefix", key_prefix, *options]
        with open(self.log_dir / f"worker-{port}.log", "wb") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def wait_ready(self, seconds: float = START_SECONDS) -> None:  # noqa: D401 - several workers load at once
        """Block until every worker answers GET /readyz with 200; a worker that exits is an error."""
        import httpx

        for port, process in zip(self.ports, self.processes):
            def ready(port: int = port, process: subprocess.Popen[bytes] = process) -> bool:
                if process.poll() is not None:
                    raise BotError(f"load worker on port {port} exited with {process.returncode}; see "
                                   f"{self.log_dir / f'worker-{port}.log'}")
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200
                except httpx.TransportError:
                    return False

            _wait(ready, seconds, f"load worker on port {port}", self.log_dir / f"worker-{port}.log")

    def count_in_logs(self, text: str) -> int:
        """Lines of the workers' logs that contain `text` (the dialogue manager logs redeliveries)."""
        return sum(line.count(text) for port in self.ports
                   for line in (self.log_dir / f"worker-{port}.log").read_text(errors="replace").splitlines())

    def kill(self, index: int) -> int:
        """SIGKILL one worker, as a crash would (no graceful shutdown, locks left held); its port."""
        self.processes[index].send_signal(signal.SIGKILL)
        self.processes[index].wait(timeout=10)
        self.killed.add(self.ports[index])
        return self.ports[index]

    def close(self) -> None:
        """Stop the live workers gracefully, then forcibly if they linger."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
