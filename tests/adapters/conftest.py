"""Fixtures of the adapter tests: stores shared as workers share them (`redis_url` is in tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from bot.store import ConversationStore, MemoryStore, StoreSettings, open_store


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
