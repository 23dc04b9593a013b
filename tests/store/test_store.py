"""Both stores against one contract; Redis against a real server, including two real processes."""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
from pydantic import ValidationError
from store_clock import FakeClock

import bot.store
from bot.store import (STORES, ConversationStore, MemoryStore, RedisStore, StoreLockLost,
                       StoreLockTimeout, StoreSettings, StoreUnavailable, open_store, redact_url)
from bot.types import ConversationState, HistoryEntry

MakeStore = Callable[..., ConversationStore]
SPAWN = multiprocessing.get_context("spawn")
POLL_SECONDS = 0.02


def poll(condition: Callable[[], bool], seconds: float = 3.0) -> float:
    """Seconds until `condition` held (Redis expires keys on its own clock); fails after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(f"condition not met within {seconds} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def test_public_api_is_exported() -> None:
    for name in bot.store.__all__:
        assert hasattr(bot.store, name), name


def test_importing_the_store_leaves_redis_unimported() -> None:
    """A memory-store bot (and `bot new`, `bot chat`) starts without importing redis."""
    code = ("import sys, bot.store, bot.dialogue; assert 'redis' not in sys.modules; "
            "bot.store.open_store(bot.store.StoreSettings()); assert 'redis' not in sys.modules; "
            "assert bot.store.RedisStore.__module__ == 'bot.store.redis' and 'redis' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_state_round_trip(store: ConversationStore) -> None:
    assert store.load("c1") == ConversationState(conversation_id="c1")
    state = ConversationState(conversation_id="c1", history=[HistoryEntry(role="user", text="hi ✓")],
                              active_skill="alarms", active_intent="set_alarm",
                              slots={"time": "7 am"}, waiting_for="place", turns=3)
    store.save(state)
    loaded = store.load("c1")
    assert loaded == state
    loaded.turns = 99  # a loaded state is a copy: nothing changes until it is saved
    assert store.load("c1").turns == 3


def test_state_expires_and_a_save_restarts_its_expiry(make_store: MakeStore, store_kind: str,
                                                      clock: FakeClock) -> None:
    store, fresh = make_store(expiry_seconds=60), ConversationState(conversation_id="c1")
    store.save(ConversationState(conversation_id="c1", turns=1))
    if store_kind == "memory":
        clock.advance(50)
        store.save(ConversationState(conversation_id="c1", turns=2))  # the expiry starts again
        clock.advance(59.9)
        assert store.load("c1").turns == 2
        clock.advance(0.2)
        assert store.load("c1") == fresh
        return
    key = store._key("conv", "c1")
    assert 59 <= store._client.ttl(key) <= 60  # the expiry Redis was given (EX 60)
    store._client.expire(key, 1000)
    store.save(ConversationState(conversation_id="c1", turns=2))
    assert 59 <= store._client.ttl(key) <= 60  # a save sets it again
    store._client.pexpire(key, 50)  # Redis's own expiry, shortened so that the test need not wait a minute
    poll(lambda: store.load("c1") == fresh)


def test_key_prefix_isolates_stores(make_store: MakeStore, store_kind: str) -> None:
    first, other = make_store(key_prefix="one:"), make_store(key_prefix="two:", lock_wait_seconds=0)
    first.save(ConversationState(conversation_id="c1", turns=5))
    assert other.load("c1").turns == 0
    assert not first.seen("event", 60) and not other.seen("event", 60)
    with first.lock("c1"), other.lock("c1"):
        pass
    if store_kind == "redis":  # the same prefix on the same server does share state
        assert make_store(key_prefix="one:").load("c1").turns == 5


def test_lock_excludes_a_second_holder(store_kind: str, make_store: MakeStore) -> None:
    store = make_store(lock_wait_seconds=0.3)
    outcome: list[object] = []

    def contend() -> None:
        started = time.monotonic()
        try:
            with store.lock("c1"):
                outcome.append("acquired")
        except StoreLockTimeout as err:
            outcome.extend([err, time.monotonic() - started])

    with store.lock("c1"):
        worker = threading.Thread(target=contend)
        worker.start()
        worker.join(timeout=5)
        with store.lock("c2"):  # other conversations are not blocked
            pass
    error, waited = outcome
    assert isinstance(error, StoreLockTimeout) and "'c1'" in str(error)
    assert 0.25 <= waited < 1.3
    with store.lock("c1"):  # released: free again
        pass


def hold_lock_and_die(url: str, prefix: str) -> None:
    """A worker that crashes while holding the lock (no `finally`, no release)."""
    store = RedisStore(StoreSettings(kind="redis", url=url, key_prefix=prefix, lock_timeout_seconds=1.5))
    held = store.lock("c1")  # kept referenced: a collected context manager would release the lock
    held.__enter__()
    os._exit(0)


def test_lock_of_a_dead_holder_expires(redis_url: str) -> None:
    prefix = f"dead-{time.time_ns()}:"
    child = SPAWN.Process(target=hold_lock_and_die, args=(redis_url, prefix))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    settings = StoreSettings(kind="redis", url=redis_url, key_prefix=prefix, lock_wait_seconds=0)
    with RedisStore(settings) as store, pytest.raises(StoreLockTimeout, match="'c1': lock not acquired"):
        with store.lock("c1"):  # still held by the dead process...
            pass
    with RedisStore(settings.model_copy(update={"lock_wait_seconds": 5})) as store:
        with store.lock("c1"):  # ...until it expires
            pass


def lease_settings(redis_url: str, **changes: object) -> StoreSettings:
    fields = {"kind": "redis", "url": redis_url, "key_prefix": f"lease-{time.time_ns()}:",
              "lock_timeout_seconds": 0.3, "lock_wait_seconds": 0, **changes}
    return StoreSettings(**fields)


def test_a_lease_is_renewed_while_its_turn_runs(redis_url: str) -> None:
    settings = lease_settings(redis_url)
    with RedisStore(settings) as holder, RedisStore(settings) as other:
        with holder.lock("c1"):
            time.sleep(1.0)  # more than three leases: only renewal keeps the lock
            with pytest.raises(StoreLockTimeout, match="another turn of it is still running"):
                with other.lock("c1"):
                    pass
            holder.save(ConversationState(conversation_id="c1", turns=1))
        with other.lock("c1"):  # released at the end of the block: free at once
            assert other.load("c1").turns == 1


def test_a_turn_whose_lease_was_lost_never_overwrites_the_newer_state(redis_url: str) -> None:
    settings = lease_settings(redis_url)
    with RedisStore(settings) as stale, RedisStore(settings) as newer:
        with stale.lock("c1"):
            stale._client.delete(stale._key("lock", "c1"))  # the lease ran out (a pause, a partition)
            with newer.lock("c1"):  # another worker takes the conversation and saves a newer state
                newer.save(ConversationState(conversation_id="c1", turns=2))
            with pytest.raises(StoreLockLost, match="was not saved"):
                stale.save(ConversationState(conversation_id="c1", turns=1))
        assert newer.load("c1").turns == 2


def test_a_lease_not_renewed_in_time_refuses_the_save(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with RedisStore(lease_settings(redis_url)) as store:
        monkeypatch.setattr(store._renewer, "_renew", lambda lease: (_ for _ in ()).throw(StoreUnavailable("u", "paused")))
        with store.lock("c1"):
            time.sleep(0.4)  # a whole lease without a confirmed renewal
            with pytest.raises(StoreLockLost, match="resend the turn"):
                store.save(ConversationState(conversation_id="c1", turns=1))
        assert store.load("c1").turns == 0


def test_hits_are_counted_in_a_sliding_window(store: ConversationStore, store_kind: str, clock: FakeClock) -> None:
    allowed = [store.hit("conv:a", 3, 1.0) for _ in range(3)]
    refused = store.hit("conv:a", 3, 1.0)
    other = store.hit("conv:b", 3, 1.0)

    assert allowed == [0.0, 0.0, 0.0] and other == 0.0
    assert 0.5 < refused <= 1.0
    if store_kind == "memory":
        clock.advance(refused - 0.01)
        assert store.hit("conv:a", 3, 1.0) > 0.0  # a refused hit is not counted...
        clock.advance(0.02)
        assert store.hit("conv:a", 3, 1.0) == 0.0  # ...so the window frees when the first hit leaves it
    else:  # Redis's clock: refused until the oldest hit leaves the window, about `refused` from now
        assert poll(lambda: store.hit("conv:a", 3, 1.0) == 0.0) >= refused - 0.1
    with pytest.raises(ValueError, match="limit >= 1"):
        store.hit("conv:c", 0, 1.0)


def test_hits_are_shared_by_every_connection_to_one_redis(make_store: MakeStore, store_kind: str) -> None:
    if store_kind != "redis":
        pytest.skip("the memory store is one process")
    one, two = make_store(), make_store()

    waits = [(one if number % 2 else two).hit("conv:x", 4, 60.0) for number in range(5)]

    assert waits[:4] == [0.0] * 4 and 59 < waits[4] <= 60


def test_seen_marks_keys_until_their_ttl(store: ConversationStore, store_kind: str, clock: FakeClock) -> None:
    assert store.marked("evt-1") is False
    assert store.seen("evt-1", 1) is False
    assert store.marked("evt-1") is True and store.marked("evt-2") is False
    assert store.seen("evt-1", 1) is True
    assert store.seen("evt-2", 1) is False
    if store_kind == "memory":
        clock.advance(0.99)
        assert store.marked("evt-1") is True
        clock.advance(0.02)
    else:
        assert 0 < store._client.pttl(store._key("seen", "evt-1")) <= 1000  # EX 1, on Redis's clock
        poll(lambda: not store.marked("evt-1"))
    assert store.marked("evt-1") is False
    assert store.seen("evt-1", 1) is False
    with pytest.raises(ValueError, match="ttl_seconds"):
        store.seen("evt-3", 0)


def count_under_lock(url: str, prefix: str, name: str, times: int, barrier: object) -> None:
    """Read, change and write one conversation; the sleep widens the race a missing lock would lose."""
    settings = StoreSettings(kind="redis", url=url, key_prefix=prefix, lock_wait_seconds=30)
    with RedisStore(settings) as store:
        barrier.wait(timeout=60)
        for number in range(times):
            with store.lock("shared"):
                state = store.load("shared")
                time.sleep(0.001)
                state.turns += 1
                state.history.append(HistoryEntry(role="user", text=f"{name}:{number}"))
                store.save(state)


def test_two_processes_lose_no_update(redis_url: str) -> None:
    prefix = f"count-{time.time_ns()}:"
    barrier = SPAWN.Barrier(2)
    workers = [SPAWN.Process(target=count_under_lock, args=(redis_url, prefix, name, 50, barrier))
               for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with RedisStore(StoreSettings(kind="redis", url=redis_url, key_prefix=prefix)) as store:
        state = store.load("shared")
    texts = [entry.text for entry in state.history]
    assert state.turns == 100 and len(texts) == 100
    for name in ("a", "b"):
        assert [text for text in texts if text.startswith(f"{name}:")] == [f"{name}:{n}" for n in range(50)]


def unanswering_server() -> socket.socket:
    """Accepts connections (the kernel's backlog does) but never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


@pytest.mark.parametrize("operation", ["load", "save", "lock", "seen", "ping"])
def test_redis_down_fails_fast_naming_url_without_password(operation: str) -> None:
    store = RedisStore(StoreSettings(kind="redis", url="redis://:secret@127.0.0.1:1/0",
                                     socket_timeout_seconds=0.5))
    calls = {"load": lambda: store.load("c1"),
             "save": lambda: store.save(ConversationState(conversation_id="c1")),
             "lock": lambda: store.lock("c1").__enter__(),
             "seen": lambda: store.seen("e", 5),
             "ping": store.ping}
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="is unavailable") as caught:
        calls[operation]()
    assert time.monotonic() - started < 1.5
    assert "redis://:***@127.0.0.1:1/0" in str(caught.value) and "REDIS_URL" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_hung_redis_times_out() -> None:
    with unanswering_server() as server:
        port = server.getsockname()[1]
        store = RedisStore(StoreSettings(kind="redis", url=f"redis://:pw1@127.0.0.1:{port}/0",
                                         socket_timeout_seconds=0.5))
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}") as caught:
            store.load("c1")
        assert time.monotonic() - started < 1.5 and "pw1" not in str(caught.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://user:pw@host:6379/0", "redis://user:***@host:6379/0"),
    ("rediss://:pw@host/1?ssl_cert_reqs=none", "rediss://:***@host/1?ssl_cert_reqs=none"),
    ("redis://host:6379/0?password=pw", "redis://host:6379/0?password=***"),
    ("redis://localhost:6379/0", "redis://localhost:6379/0"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_open_store_builds_each_kind(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(STORES) == {"memory", "redis"}
    assert isinstance(open_store(StoreSettings()), MemoryStore)
    monkeypatch.setenv("REDIS_URL", redis_url)  # the default URL is read at open time
    with open_store(StoreSettings(kind="redis")) as store:
        assert isinstance(store, RedisStore) and store.url == redis_url


def test_open_store_never_falls_back_to_memory() -> None:
    with pytest.raises(StoreUnavailable, match=r"redis://127\.0\.0\.1:1/0 is unavailable"):
        open_store(StoreSettings(kind="redis", url="redis://127.0.0.1:1/0", socket_timeout_seconds=0.5))


@pytest.mark.parametrize(("bad", "message"), [
    ({"kind": "mongo"}, "kind\n  Input should be 'memory' or 'redis'"),
    ({"expiry_seconds": 0}, "expiry_seconds\n  Input should be greater than or equal to 1"),
    ({"lock_timeout_seconds": -1}, "lock_timeout_seconds\n  Input should be greater than 0"),
    ({"socket_timeout_seconds": 0}, "socket_timeout_seconds\n  Input should be greater than 0"),
    ({"typo": 1}, "typo\n  Extra inputs are not permitted"),
])
def test_invalid_settings_are_refused_naming_the_field(bad: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        StoreSettings(**bad)
