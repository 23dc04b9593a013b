"""What every conversation store offers: settings, the store contract, and the errors it raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.config.store import DEFAULT_REDIS_URL, StoreSettings
from bot.errors import BotError
from bot.types import ConversationState

__all__ = ["DEFAULT_REDIS_URL", "ConversationStore", "StoreError", "StoreLockLost", "StoreLockTimeout", "StoreSettings",
           "StoreUnavailable", "redact_url"]

# The settings live in the config room, so BotSettings can hold them; re-exported here.


def redact_url(url: str) -> str:
    """The URL with any password replaced by '***', safe to print in errors and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = netloc.rpartition("@")[2]
        netloc = f"{user}:***@{host}"
    query = urlencode([(key, "***" if key.lower() == "password" else value)
                       for key, value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_ttl(ttl_seconds: int) -> int:
    """Redis refuses a zero or negative expiry, so both stores refuse it the same way."""
    if ttl_seconds < 1:
        raise ValueError(f"ttl_seconds must be at least 1, got {ttl_seconds}")
    return ttl_seconds


class StoreError(BotError):
    """The conversation store failed; base of the store's errors."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached or did not answer in time. Never silently replaced."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = redact_url(url)
        password = urlsplit(url).password
        if password:  # a driver message might echo the URL; the password must never be printed
            reason = reason.replace(password, "***")
        super().__init__(f"conversation store at {self.url} is unavailable: {reason}\n"
                         "  fix: start redis-server or set REDIS_URL to a reachable Redis")


class StoreLockTimeout(StoreError):
    """Another turn of the same conversation held the lock for longer than we may wait."""

    def __init__(self, conversation_id: str, waited: float) -> None:
        self.conversation_id, self.waited = conversation_id, waited
        super().__init__(f"conversation {conversation_id!r}: lock not acquired within {waited:g} s "
                         "(another turn of it is still running)\n"
                         "  fix: retry later, or raise lock_wait_seconds in the store settings")


class StoreLockLost(StoreError):
    """The lock's lease ran out while held (it could not be renewed): the state was NOT saved, so a
    newer state another worker wrote meanwhile is never overwritten (fencing)."""

    def __init__(self, conversation_id: str, lock_timeout: float) -> None:
        self.conversation_id = conversation_id
        super().__init__(f"conversation {conversation_id!r}: the lock's {lock_timeout:g} s lease ran out "
                         "before it could be renewed, so this turn's state was not saved\n"
                         "  fix: resend the turn; if it recurs, check the link to Redis (or a paused "
                         "worker) and raise lock_timeout_seconds")


class ConversationStore(ABC):
    """Keeps conversation state between turns; every method is synchronous and may block."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings

    @abstractmethod
    def lock(self, conversation_id: str) -> AbstractContextManager[None]:
        """Exclude every other holder of this conversation (threads, and processes where shared)."""

    @abstractmethod
    def load(self, conversation_id: str) -> ConversationState:
        """The stored state, or a fresh one if there is none or it expired."""

    @abstractmethod
    def save(self, state: ConversationState) -> None:
        """Store the state and restart its expiry."""

    @abstractmethod
    def seen(self, key: str, ttl_seconds: int) -> bool:
        """Mark `key` for `ttl_seconds`; True if it was already marked (de-duplication)."""

    @abstractmethod
    def marked(self, key: str) -> bool:
        """True while `seen` has `key` marked; marks nothing (a look before a claim)."""

    @abstractmethod
    def hit(self, key: str, limit: int, window_seconds: float) -> float:
        """Count one hit of `key` (a rate limit shared by every worker of the store): 0.0 if it is
        within `limit` hits in the last `window_seconds`, else the seconds until one would be."""

    def read_data(self, key: str) -> str | None:
        """The text `write_data` stored under `key` (user data such as alarms), or None."""
        raise StoreError(f"{type(self).__name__} keeps no user data\n"
                         "  fix: implement read_data and write_data (see bot/store/user_data.py)")

    def write_data(self, key: str, value: str) -> None:
        """Store `value` under `key`, without expiry; callers hold `lock(key)` (UserRecords does)."""
        raise StoreError(f"{type(self).__name__} keeps no user data\n"
                         "  fix: implement read_data and write_data (see bot/store/user_data.py)")

    @abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store is not used afterwards."""

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
