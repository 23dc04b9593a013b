"""A throwaway redis-server for the session, and fresh stores of each kind with their own key prefix."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from bot.store import ConversationStore, StoreSettings, StoreUnavailable, open_store
from bot.store.redis import RedisStore

START_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_ping(url: str, server: subprocess.Popen, log_path: os.PathLike) -> None:
    """Poll until the server answers, failing with its log if it exits or never answers."""
    client = RedisStore(StoreSettings(kind="redis", url=url, socket_timeout_seconds=0.5))
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"redis-server exited with {server.returncode}:\n{open(log_path).read()}")
            try:
                client.ping()
                return
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not answer within {START_SECONDS} s:\n"
                                f"{open(log_path).read()}")
                time.sleep(0.05)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server started for this test session (no persistence), stopped after it."""
    exe = shutil.which("redis-server")
    if exe is None:
        reason = "redis-server is not installed (apt-get install redis-server); Redis store tests skipped"
        if os.environ.get("CI"):  # in CI a skipped Redis suite would hide a broken set-up
            pytest.fail(reason)
        pytest.skip(reason)
    port = free_port()
    log_path = tmp_path_factory.mktemp("redis") / "redis.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--daemonize", "no"],
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        wait_for_ping(url, server, log_path)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_store(request: pytest.FixtureRequest, store_kind: str) -> Iterator[Callable[..., ConversationStore]]:
    """Open stores of this test's kind; each test gets a unique key prefix unless it names one."""
    url = request.getfixturevalue("redis_url") if store_kind == "redis" else None
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    opened: list[ConversationStore] = []

    def make(**changes: object) -> ConversationStore:
        fields = {"kind": store_kind, "url": url, "key_prefix": prefix, **changes}
        opened.append(open_store(StoreSettings(**fields)))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., ConversationStore]) -> ConversationStore:
    return make_store()
