"""Fresh stores of each kind with their own key prefix (`redis_url` is in tests/conftest.py); memory
stores run on a clock the test moves (`clock`), so expiry is tested without waiting for it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from store_clock import FakeClock

from bot.store import ConversationStore, MemoryStore, StoreSettings, open_store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_store(request: pytest.FixtureRequest, store_kind: str,
               clock: FakeClock) -> Iterator[Callable[..., ConversationStore]]:
    """Open stores of this test's kind; each test gets a unique key prefix unless it names one.
    Memory stores read `clock`; Redis keeps its own time."""
    url = request.getfixturevalue("redis_url") if store_kind == "redis" else None
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    opened: list[ConversationStore] = []

    def make(**changes: object) -> ConversationStore:
        fields = {"kind": store_kind, "url": url, "key_prefix": prefix, **changes}
        settings = StoreSettings(**fields)
        opened.append(MemoryStore(settings, clock=clock) if store_kind == "memory" else open_store(settings))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., ConversationStore]) -> ConversationStore:
    return make_store()
