"""Rate limits counted in the conversation store, so that every worker on one Redis shares them:
one per conversation, and one per client (its API key, or its address when the API is open)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config.server import RateLimitConfig
from bot.store import ConversationStore

__all__ = ["Limits", "Refusal"]


@dataclass(frozen=True)
class Refusal:
    """Which limit a message ran into and how long to wait."""

    field: str  # "conversation_id" or "authorization" / "client"
    who: str
    turns: int
    seconds: float
    wait: float


class Limits:
    """Both limits; `check` counts one message against each (conversation first)."""

    def __init__(self, conversation: RateLimitConfig, client: RateLimitConfig) -> None:
        self.conversation, self.client = conversation, client

    def check(self, store: ConversationStore, *, conversation_id: str, client: str,
              client_field: str = "client") -> Refusal | None:
        """None if the message is allowed; blocks on the store (call it off the event loop)."""
        limits = ((f"conv:{conversation_id}", "conversation_id", conversation_id, self.conversation),
                  (f"client:{client}", client_field, client, self.client))
        for key, field, who, limit in limits:
            wait = store.hit(key, limit.turns, limit.seconds)
            if wait:
                return Refusal(field, who, limit.turns, limit.seconds, wait)
        return None
