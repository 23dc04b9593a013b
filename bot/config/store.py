"""Where conversations live: the store settings, one type for the YAML file, the code and the store.

It sits in the config room (below `bot/store`), so `BotSettings` can hold it without the config
importing the store; `bot.store` re-exports it.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_REDIS_URL", "StoreSettings"]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


class StoreSettings(BaseModel):
    """Which store to open and how long state, locks and network calls may last."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["memory", "redis"] = "memory"
    url: str | None = None  # None: $REDIS_URL at open time, else DEFAULT_REDIS_URL
    key_prefix: str = "bot:"
    expiry_seconds: int = Field(default=86400, ge=1)
    # A held lock is a lease of this long, renewed (every third of it) while its turn runs: a crashed
    # worker's lock frees within this time, and a live turn keeps its lock however slow it is.
    lock_timeout_seconds: float = Field(default=5.0, gt=0)
    lock_wait_seconds: float = Field(default=10.0, ge=0)
    socket_timeout_seconds: float = Field(default=2.0, gt=0)

    def resolved_url(self) -> str:
        """The URL to connect to, read when the store is opened (not when settings are built)."""
        return self.url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
