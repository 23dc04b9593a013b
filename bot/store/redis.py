"""The shared store for several workers and processes: state, locks and marks live in Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from pydantic import ValidationError
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.lock import Lock
from redis.retry import Retry

from bot.store.base import (ConversationStore, StoreError, StoreLockLost, StoreLockTimeout,
                            StoreSettings, StoreUnavailable, check_ttl, redact_url)
from bot.types import ConversationState

__all__ = ["RedisStore"]

LOCK_POLL_SECONDS = 0.02  # redis-py polls every 0.1 s by default: too slow for queued turns
HEALTH_CHECK_SECONDS = 30  # ping a pooled connection idle this long before reusing it


class RedisStore(ConversationStore):
    """State as JSON under `{prefix}conv:{id}` with an expiry; redis-py's Lock per conversation.

    The constructor does not connect; `ping` (called by `open_store`) checks the server early.
    """

    def __init__(self, settings: StoreSettings | None = None) -> None:
        super().__init__(settings or StoreSettings(kind="redis"))
        self.url = self.settings.resolved_url()
        timeout = self.settings.socket_timeout_seconds
        # One immediate retry on a dropped connection, none on a timeout: an outage must surface
        # within about one socket timeout, not after redis-py's default backoff of several seconds.
        retry = Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,))
        try:
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=timeout, socket_connect_timeout=timeout,
                health_check_interval=HEALTH_CHECK_SECONDS, retry=retry)
        except ValueError as err:
            raise StoreError(f"invalid Redis URL {redact_url(self.url)}: {err}\n"
                             "  fix: use redis://[:password@]host:port/db (or rediss://, unix://)") from None

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """Turn redis-py's errors into the store's own, naming the (redacted) URL."""
        try:
            yield
        except LockError:
            raise
        except (RedisConnectionError, RedisTimeoutError) as err:
            raise StoreUnavailable(self.url, str(err) or type(err).__name__) from err
        except RedisError as err:
            raise StoreError(f"Redis at {redact_url(self.url)} refused a command: {err}") from err

    def _key(self, kind: str, name: str) -> str:
        return f"{self.settings.key_prefix}{kind}:{name}"

    @contextmanager
    def lock(self, conversation_id: str) -> Iterator[None]:
        """Exclude other threads and processes; the lock expires after lock_timeout if a holder dies."""
        # thread_local=False: this Lock object belongs to one `with` block, which may be entered and
        # left on different threads (e.g. an async server using worker threads).
        held = self._client.lock(self._key("lock", conversation_id),
                                 timeout=self.settings.lock_timeout_seconds, sleep=LOCK_POLL_SECONDS,
                                 blocking_timeout=self.settings.lock_wait_seconds, thread_local=False)
        with self._calls():
            acquired = held.acquire()
        if not acquired:
            raise StoreLockTimeout(conversation_id, self.settings.lock_wait_seconds)
        try:
            yield
        finally:
            self._release(held, conversation_id)

    def _release(self, held: Lock, conversation_id: str) -> None:
        """Release, or say loudly that the lock expired while held (the turn outlived lock_timeout)."""
        try:
            with self._calls():
                held.release()
        except LockNotOwnedError:
            raise StoreLockLost(conversation_id, self.settings.lock_timeout_seconds) from None

    def load(self, conversation_id: str) -> ConversationState:
        key = self._key("conv", conversation_id)
        with self._calls():
            raw = self._client.get(key)
        if raw is None:
            return ConversationState(conversation_id=conversation_id)
        try:
            return ConversationState.model_validate_json(raw)
        except ValidationError as err:
            raise StoreError(f"{key} in Redis at {redact_url(self.url)} is not a valid conversation "
                             f"state: {err.errors()[0]['msg']}\n  fix: delete the key (the "
                             "conversation restarts) or migrate it to the current format") from None

    def save(self, state: ConversationState) -> None:
        with self._calls():
            self._client.set(self._key("conv", state.conversation_id), state.model_dump_json(),
                             ex=self.settings.expiry_seconds)

    def seen(self, key: str, ttl_seconds: int) -> bool:
        """SET NX EX: one atomic command, so two workers never both see a key as new."""
        with self._calls():
            created = self._client.set(self._key("seen", key), 1, nx=True, ex=check_ttl(ttl_seconds))
        return not created

    def ping(self) -> None:
        with self._calls():
            self._client.ping()

    def close(self) -> None:
        self._client.close()
