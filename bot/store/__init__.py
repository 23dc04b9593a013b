"""The only room that imports redis: where conversation state lives between turns.

Use one conversation's state under its lock, so that two turns of it never interleave::

    store = open_store(StoreSettings(kind="redis"))
    with store.lock(turn.conversation_id):
        state = store.load(turn.conversation_id)
        ...  # update state
        store.save(state)

redis is imported only when a Redis store is built (or `RedisStore` is named), so a bot on the
memory store, and `bot new`/`bot chat`, start without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.store.base import (ConversationStore, StoreError, StoreLockLost, StoreLockTimeout,
                            StoreSettings, StoreUnavailable, redact_url)
from bot.store.memory import MemoryStore

if TYPE_CHECKING:
    from bot.store.redis import RedisStore

__all__ = ["STORES", "ConversationStore", "MemoryStore", "RedisStore", "StoreError", "StoreLockLost",
           "StoreLockTimeout", "StoreSettings", "StoreUnavailable", "open_store", "redact_url"]


def _redis_store(settings: StoreSettings) -> ConversationStore:
    from bot.store.redis import RedisStore

    return RedisStore(settings)


# kind -> a callable that builds the store from its settings (a class, or a loader that imports one).
STORES: dict[str, Callable[[StoreSettings], ConversationStore]] = {"memory": MemoryStore,
                                                                   "redis": _redis_store}


def __getattr__(name: str) -> object:
    """`bot.store.RedisStore`, imported on first use."""
    if name == "RedisStore":
        from bot.store.redis import RedisStore

        globals()["RedisStore"] = RedisStore  # later lookups skip this function
        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def open_store(settings: StoreSettings) -> ConversationStore:
    """Build the store `settings.kind` names and check it answers now, not at the first turn.

    Raises StoreUnavailable if Redis cannot be reached: there is no fallback to memory.
    """
    store = STORES[settings.kind](settings)
    try:
        store.ping()
    except BaseException:
        store.close()
        raise
    return store
