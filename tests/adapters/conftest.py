"""Fixtures of the adapter tests: a throwaway redis-server and stores shared as workers share them."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from adapter_fixtures import START_SECONDS, free_port, wait_until

from bot.store import ConversationStore, MemoryStore, StoreSettings, StoreUnavailable, open_store


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this session (no persistence), stopped after it."""
    exe = shutil.which("redis-server")
    if exe is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):  # in CI a skipped Redis test would hide a broken set-up
            pytest.fail(reason)
        pytest.skip(reason)
    port = free_port()
    log_path = tmp_path_factory.mktemp("redis") / "redis.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _answers(url), START_SECONDS)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=5)


def _answers(url: str) -> bool:
    try:
        open_store(StoreSettings(kind="redis", url=url, socket_timeout_seconds=0.5)).close()
        return True
    except StoreUnavailable:
        return False


@pytest.fixture(params=["memory", "redis"])
def shared_stores(request: pytest.FixtureRequest) -> Iterator[Callable[[], ConversationStore]]:
    """Stores as two workers would open them: one MemoryStore in-process, or Redis connections
    under one fresh key prefix (what several processes share)."""
    if request.param == "memory":
        memory = MemoryStore()
        yield lambda: memory
        return
    settings = StoreSettings(kind="redis", url=request.getfixturevalue("redis_url"),
                             key_prefix=f"test-{uuid.uuid4().hex[:12]}:")
    opened: list[ConversationStore] = []

    def make() -> ConversationStore:
        opened.append(open_store(settings))
        return opened[-1]

    yield make
    for store in opened:
        store.close()
