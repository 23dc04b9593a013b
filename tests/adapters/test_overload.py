"""Limits that hold across workers, a bounded turn queue, abandoned turns dropped, and channels
kept apart: two app instances on one real Redis, and uvicorn with real clients that hang up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
from adapter_fixtures import Gate, make_manager, running, wait_until
from fastapi.testclient import TestClient

from bot.adapters.http import create_app
from bot.config.server import ServerConfig
from bot.store import ConversationStore, MemoryStore

URL = "/v1/conversations/{}/messages"


def test_the_rate_limit_is_shared_by_two_workers_on_one_store(shared_stores: Callable[[], ConversationStore]) -> None:
    settings = ServerConfig(rate_limit={"turns": 3, "seconds": 60})
    with TestClient(create_app(make_manager(shared_stores()), settings)) as one, \
            TestClient(create_app(make_manager(shared_stores()), settings)) as two:
        statuses = [(one if number % 2 == 0 else two).post(URL.format("r1"), json={"text": "tell a joke"})
                    for number in range(4)]
        other = two.post(URL.format("r2"), json={"text": "tell a joke"})

    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[3].json()["error"]["field"] == "conversation_id"
    assert 59 <= int(statuses[3].headers["Retry-After"]) <= 60
    assert other.status_code == 200


def test_a_client_is_limited_across_its_conversations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_API_KEYS", "k1,k2")
    settings = ServerConfig(client_rate_limit={"turns": 2, "seconds": 60})
    with TestClient(create_app(make_manager(), settings)) as client:
        sent = [client.post(URL.format(f"c{n}"), json={"text": "tell a joke"},
                            headers={"Authorization": "Bearer k1"}).status_code for n in range(3)]
        refused = client.post(URL.format("c9"), json={"text": "hi"}, headers={"Authorization": "Bearer k1"})
        other_key = client.post(URL.format("c9"), json={"text": "tell a joke"}, headers={"Authorization": "Bearer k2"})

    assert sent == [200, 200, 429]
    assert (refused.json()["error"]["field"], other_key.status_code) == ("authorization", 200)
    assert "this API key" in refused.json()["error"]["message"] and "k1" not in refused.text


def test_a_full_queue_answers_503_with_retry_after() -> None:
    gate = Gate(make_manager())
    app = create_app(gate, ServerConfig(threads=1, queue_size=1))
    with running(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        replies: list[httpx.Response] = []
        first = threading.Thread(target=lambda: replies.append(http.post(URL.format("q1"), json={"text": "tell a joke"})))
        first.start()
        assert gate.entered.wait(5)  # the one thread is busy
        queued = threading.Thread(target=lambda: replies.append(http.post(URL.format("q2"), json={"text": "tell a joke"})))
        queued.start()
        wait_until(lambda: app.state.runner.waiting == 1)
        refused = http.post(URL.format("q3"), json={"text": "tell a joke"})
        gate.opened.set()
        first.join(10)
        queued.join(10)

    assert (refused.status_code, refused.json()["error"]["code"], refused.headers["Retry-After"]) == (503, "overloaded", "2")
    assert [r.status_code for r in replies] == [200, 200]


def test_turns_whose_clients_hung_up_before_they_started_never_run() -> None:
    gate = Gate(make_manager())
    app = create_app(gate, ServerConfig(threads=1))
    with running(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        slow = threading.Thread(target=lambda: http.post(URL.format("h0"), json={"text": "tell a joke"}))
        slow.start()
        assert gate.entered.wait(5)
        for number in range(4):  # four clients that give up after 0.3 s while the one thread is busy
            with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=base, timeout=0.3) as impatient:
                impatient.post(URL.format(f"h{number + 1}"), json={"text": "tell a joke"})
        wait_until(lambda: app.state.runner.waiting == 0)
        gate.opened.set()
        started = time.perf_counter()
        fresh = http.post(URL.format("fresh"), json={"text": "set an alarm for 7 am"})
        waited = time.perf_counter() - started
        slow.join(10)

    assert fresh.json()["text"] == "Alarm set for 7 am." and waited < 1.0
    assert [turn.conversation_id for turn in gate.turns] == ["api:h0", "api:fresh"]


def test_the_api_cannot_reach_another_channels_conversation() -> None:
    store = MemoryStore()
    with TestClient(create_app(make_manager(store), ServerConfig())) as client:
        reply = client.post(URL.format("slack:T1:C1:100.1"), json={"text": "set an alarm"})

    assert reply.status_code == 200 and reply.json()["conversation_id"] == "slack:T1:C1:100.1"
    assert store.load("slack:T1:C1:100.1").turns == 0  # the Slack thread is untouched
    assert store.load("api:slack:T1:C1:100.1").turns == 1


def test_an_unreachable_store_refuses_the_turn_with_503_instead_of_skipping_the_limit() -> None:
    from bot.store import RedisStore, StoreSettings

    dead = RedisStore(StoreSettings(kind="redis", url="redis://:pw@127.0.0.1:1/0", socket_timeout_seconds=0.3))
    with TestClient(create_app(make_manager(dead), ServerConfig())) as client:
        refused = client.post(URL.format("d1"), json={"text": "tell a joke"})

    error = refused.json()["error"]
    assert (refused.status_code, error["code"], refused.headers["Retry-After"]) == (503, "store_unavailable", "1")
    assert "pw" not in refused.text


class SlowOnRequest:
    """The real manager; turns saying "slow" wait for `release` (a long read, under control)."""

    def __init__(self) -> None:
        self.manager = make_manager()
        self.store = self.manager.store
        self.release, self.slow_started = threading.Event(), threading.Semaphore(0)

    def handle(self, turn, on_piece=None):
        if "slow" in turn.text:
            self.slow_started.release()
            self.release.wait(10)
        return self.manager.handle(turn, on_piece)


def test_four_hung_up_slow_turns_do_not_delay_a_fresh_turn() -> None:
    handler = SlowOnRequest()
    app = create_app(handler, ServerConfig(threads=4))
    with running(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        for number in range(4):  # four long turns fill the four threads; their clients give up
            with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=base, timeout=0.5) as impatient:
                impatient.post(URL.format(f"s{number}"), json={"text": "tell a slow joke"})
        for _ in range(4):
            assert handler.slow_started.acquire(timeout=5)
        started = time.perf_counter()
        fresh = http.post(URL.format("fresh"), json={"text": "set an alarm for 7 am"})
        waited = time.perf_counter() - started
        handler.release.set()

    assert fresh.json()["text"] == "Alarm set for 7 am." and waited < 1.0
