"""Fresh stores of each kind with their own key prefix (`redis_url` is in tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from bot.store import ConversationStore, StoreSettings, open_store


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
