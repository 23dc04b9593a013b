"""The only room that imports redis: where conversation state lives between turns.

Use one conversation's state under its lock, so that two turns of it never interleave::

    store = open_store(StoreSettings(kind="redis"))
    with store.lock(turn.conversation_id):
        state = store.load(turn.conversation_id)
        ...  # update state
        store.save(state)
"""

from __future__ import annotations

from bot.store.base import (ConversationStore, StoreError, StoreLockLost, StoreLockTimeout,
                            StoreSettings, StoreUnavailable, redact_url)
from bot.store.memory import MemoryStore
from bot.store.redis import RedisStore

__all__ = ["STORES", "ConversationStore", "MemoryStore", "RedisStore", "StoreError", "StoreLockLost",
           "StoreLockTimeout", "StoreSettings", "StoreUnavailable", "open_store", "redact_url"]

STORES: dict[str, type[ConversationStore]] = {"memory": MemoryStore, "redis": RedisStore}


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
