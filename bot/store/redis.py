"""The shared store for several workers and processes: state, locks and marks live in Redis."""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from pydantic import ValidationError
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from bot.store.base import (ConversationStore, StoreError, StoreLockLost, StoreLockTimeout,
                            StoreSettings, StoreUnavailable, check_ttl, redact_url)
from bot.store.lease import Lease, Renewer
from bot.store.window import check_limit
from bot.types import ConversationState

__all__ = ["RedisStore"]

LOCK_POLL_SECONDS = 0.02  # how often a waiting turn tries the lock again
HEALTH_CHECK_SECONDS = 30  # ping a pooled connection idle this long before reusing it
log = logging.getLogger("bot.store")

# Each script runs atomically in Redis: "is the lock still ours?" and the write cannot be split.
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
FENCED_SET = ("if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end "
              "redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[3]) return 1")
# A sliding window on Redis's own clock (workers' clocks may differ): scores are milliseconds.
HIT = """local now = redis.call('time')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[1], '-inf', ms - window)
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('zrange', KEYS[1], 0, 0, 'withscores')
  return math.max(tonumber(oldest[2]) + window - ms, 1)
end
redis.call('zadd', KEYS[1], ms, ARGV[3])
redis.call('pexpire', KEYS[1], window)
return 0"""
# The leases this thread (or task) holds, by conversation: a save is fenced by the one it finds.
_HELD: contextvars.ContextVar[dict[str, Lease]] = contextvars.ContextVar("held_leases", default={})


class RedisStore(ConversationStore):
    """State as JSON under `{prefix}conv:{id}` with an expiry; a renewed lease lock per conversation
    under `{prefix}lock:{id}`; a save made under the lock writes only while the lease is still ours.

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
        self._scripts = {name: self._client.register_script(code) for name, code in
                         (("renew", RENEW), ("release", RELEASE), ("fenced_set", FENCED_SET), ("hit", HIT))}
        self._renewer = Renewer(self._renew, interval=self.settings.lock_timeout_seconds / 3)

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """Turn redis-py's errors into the store's own, naming the (redacted) URL."""
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as err:
            raise StoreUnavailable(self.url, str(err) or type(err).__name__) from err
        except RedisError as err:
            raise StoreError(f"Redis at {redact_url(self.url)} refused a command: {err}") from err

    def _key(self, kind: str, name: str) -> str:
        return f"{self.settings.key_prefix}{kind}:{name}"

    @contextmanager
    def lock(self, conversation_id: str) -> Iterator[None]:
        """Exclude other threads and processes with a lease renewed while the block runs; the lock
        frees within lock_timeout_seconds if its holder dies."""
        lease = self._acquire(conversation_id)
        self._renewer.hold(lease)
        reset = _HELD.set({**_HELD.get(), conversation_id: lease})
        try:
            yield
        finally:
            try:
                _HELD.reset(reset)
            except ValueError:  # left on another thread than it was entered on
                _HELD.set({k: v for k, v in _HELD.get().items() if v is not lease})
            self._renewer.drop(lease)
            self._release(lease)

    def _acquire(self, conversation_id: str) -> Lease:
        key, lease = self._key("lock", conversation_id), Lease(conversation_id, self.settings.lock_timeout_seconds)
        deadline = time.monotonic() + self.settings.lock_wait_seconds
        while True:
            with self._calls():
                if self._client.set(key, lease.token, nx=True, px=self._lease_ms()):
                    lease.renewed = time.monotonic()
                    return lease
            if time.monotonic() >= deadline:
                raise StoreLockTimeout(conversation_id, self.settings.lock_wait_seconds)
            time.sleep(LOCK_POLL_SECONDS)

    def _lease_ms(self) -> int:
        return max(int(self.settings.lock_timeout_seconds * 1000), 1)

    def _renew(self, lease: Lease) -> bool:
        with self._calls():
            return bool(self._scripts["renew"](keys=[self._key("lock", lease.conversation_id)],
                                               args=[lease.token, self._lease_ms()]))

    def _release(self, lease: Lease) -> None:
        """Free the lock if it is still ours. Not ours: the fenced save already refused to write, so
        there is nothing left to protect; a failed release only makes the lease run out by itself."""
        try:
            with self._calls():
                ours = self._scripts["release"](keys=[self._key("lock", lease.conversation_id)], args=[lease.token])
        except StoreError as err:
            log.warning("conversation %r: lock not released (%s); it frees when its lease runs out",
                        lease.conversation_id, err)
            return
        if not ours:
            log.warning("conversation %r: its lock lease had run out before release", lease.conversation_id)

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
        """Under this thread's lock of the conversation, written only while the lease is still ours
        (checked in Redis, atomically with the write): else StoreLockLost, and nothing is written."""
        key, raw = self._key("conv", state.conversation_id), state.model_dump_json()
        lease = _HELD.get().get(state.conversation_id)
        if lease is None:  # no lock held here (tools, tests): a plain write
            with self._calls():
                self._client.set(key, raw, ex=self.settings.expiry_seconds)
            return
        if lease.expired():  # not confirmed for a whole lease: another worker may hold it by now
            raise StoreLockLost(state.conversation_id, lease.seconds)
        with self._calls():
            written = self._scripts["fenced_set"](keys=[self._key("lock", state.conversation_id), key],
                                                  args=[lease.token, raw, self.settings.expiry_seconds])
        if not written:
            lease.lost = True
            raise StoreLockLost(state.conversation_id, lease.seconds)

    def hit(self, key: str, limit: int, window_seconds: float) -> float:
        """One script on Redis's clock: the count is shared by every worker of this Redis."""
        check_limit(limit, window_seconds)
        with self._calls():
            wait_ms = self._scripts["hit"](keys=[self._key("rate", key)],
                                           args=[limit, max(int(window_seconds * 1000), 1), uuid.uuid4().hex])
        return int(wait_ms) / 1000

    def seen(self, key: str, ttl_seconds: int) -> bool:
        """SET NX EX: one atomic command, so two workers never both see a key as new."""
        with self._calls():
            created = self._client.set(self._key("seen", key), 1, nx=True, ex=check_ttl(ttl_seconds))
        return not created

    def marked(self, key: str) -> bool:
        with self._calls():
            return bool(self._client.exists(self._key("seen", key)))

    def read_data(self, key: str) -> str | None:
        with self._calls():
            raw = self._client.get(self._key("data", key))
        return raw.decode("utf-8") if isinstance(raw, bytes) else raw

    def write_data(self, key: str, value: str) -> None:
        """A plain SET without expiry: user data outlives conversations."""
        with self._calls():
            self._client.set(self._key("data", key), value)

    def ping(self) -> None:
        with self._calls():
            self._client.ping()

    def close(self) -> None:
        self._renewer.close()
        self._client.close()
