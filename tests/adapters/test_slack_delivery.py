"""Slack delivery: at least once and never twice, across workers and deaths. Really signed Events
API requests -> the bot's server (uvicorn) -> a real DialogueManager (scripted model) -> a local
fake Slack Web API that keeps the threads."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from adapter_fixtures import Gate, free_port, make_manager, wait_until
from fake_slack import (BOT_USER, TEAM, FakeSlack, bot_server, deliver, event_body, fake_slack,  # noqa: F401 - a fixture
                        mention)

from bot.adapters.slack import answers_in_flight
from bot.adapters.slack_post import REPLY_EVENT, carries_turn, posted_before
from bot.store import ConversationStore, MemoryStore, RedisStore, StoreSettings

# No sleeping to prove that no reply comes: events are answered before their ack
# (process_before_response), so once every delivery has its response and `answers_in_flight()` is 0,
# nothing is left that could still post.


def test_a_mention_gets_one_reply_in_its_thread_even_when_delivered_three_times(
        fake_slack: tuple[FakeSlack, str], shared_stores: Callable[[], ConversationStore]) -> None:
    fake, api = fake_slack
    body = event_body(mention("set an alarm for 7 am", ts="1700000000.000100"), event_id="Ev1")
    # Two workers sharing the store: Slack's retries land on the other one.
    with bot_server(make_manager(shared_stores()), api) as first, \
            bot_server(make_manager(shared_stores()), api) as second:
        statuses = [deliver(first, body).status_code, deliver(second, body, retry=1).status_code,
                    deliver(first, body, retry=2).status_code]
        assert answers_in_flight() == 0

    assert statuses == [200, 200, 200]
    assert len(fake.posts) == 1
    post = fake.posts[0]
    assert (post["channel"], post["thread_ts"], post["text"]) == ("C1", "1700000000.000100", "Alarm set for 7 am.")
    assert post["metadata"] == {"event_type": REPLY_EVENT, "event_payload": {"turn_id": "slack:Ev1"}}


def test_a_reply_not_posted_within_the_ack_budget_gets_503_and_slacks_retry_no_second_reply(
        fake_slack: tuple[FakeSlack, str]) -> None:
    fake, api = fake_slack
    gate = Gate(make_manager())
    body = event_body(mention("tell a joke", ts="400.1"), event_id="Ev40")
    with bot_server(gate, api, ack_seconds=0.3) as client:
        started = time.perf_counter()
        later = deliver(client, body)  # the "model" is still reading: not acked, so Slack will retry
        answered_after = time.perf_counter() - started
        busy = deliver(client, body, retry=1)  # Slack's prompt retry, while the first is being answered
        gate.opened.set()
        wait_until(lambda: len(fake.posts) == 1)
        wait_until(lambda: deliver(client, body, retry=2).status_code == 200)  # the retry a minute later
        wait_until(lambda: answers_in_flight() == 0)  # the first delivery's work has ended

    assert (later.status_code, later.json()["error"]["code"]) == (503, "retry_later") and answered_after < 1.0
    assert later.headers["Retry-After"] == "60" and busy.status_code == 503
    assert [p["text"] for p in fake.posts] == ["(chat) tell a joke"] and len(gate.turns) == 1


@pytest.mark.parametrize("where", ["turn", "post"])
def test_a_worker_killed_mid_event_loses_no_reply_and_posts_none_twice(
        fake_slack: tuple[FakeSlack, str], redis_url: str, where: str) -> None:
    """Killed after the turn (nothing posted) or after the post (not marked done): Slack's retry
    leaves exactly one reply in the thread, and the turn is read once."""
    fake, api = fake_slack
    prefix, port, event_id = f"slack-kill-{time.time_ns()}:", free_port(), f"Ev6{where}"
    dying = subprocess.Popen([sys.executable, str(Path(__file__).with_name("slack_worker.py")), str(port), redis_url,
                              prefix, api, where])
    body = event_body(mention("set an alarm", ts="600.1"), event_id=event_id)
    store = RedisStore(StoreSettings(kind="redis", url=redis_url, key_prefix=prefix))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as first:
            wait_until(lambda: _answers(first), seconds=30)
            with pytest.raises(httpx.TransportError, match=r"(?i)disconnect|closed|reset|EOF"):
                deliver(first, body)  # the worker dies with the request open: no ack
        assert dying.wait(10) == 9
        posted_by_the_dead = fake.calls.count("chat.postMessage")
        with bot_server(make_manager(store), api, claim_seconds=2) as second:
            at_once = deliver(second, body, retry=1)  # the dead worker's claim still stands
            wait_until(lambda: not store.marked(f"slack-claim:{event_id}"), seconds=5)
            retried = deliver(second, body, retry=2)  # Slack's retry a minute later
            again = deliver(second, body, retry=3)
            assert answers_in_flight() == 0
        state = store.load(f"slack:{TEAM}:C1:600.1")
    finally:
        dying.kill()
        store.close()

    assert posted_by_the_dead == {"turn": 0, "post": 1}[where]
    assert (at_once.status_code, retried.status_code, again.status_code) == (503, 200, 200)
    assert [p["text"] for p in fake.posts] == ["For what time?"]
    assert fake.calls.count("conversations.replies") == 1  # the retry looked in the thread first
    assert state.turns == 1  # the turn was not read a second time


@pytest.mark.parametrize("seeded", ["slack:Ev70", "slack:Ev-other"], ids=["found", "another-turn"])
def test_a_resumed_event_posts_only_if_its_reply_is_not_in_the_thread(fake_slack: tuple[FakeSlack, str],
                                                                      seeded: str) -> None:
    fake, api = fake_slack
    store = MemoryStore()
    store.seen("slack-started:Ev70", 60)  # a worker started it and died; its claim has run out
    fake.post({"channel": "C1", "thread_ts": "700.1", "text": "For what time?",
               "metadata": {"event_type": REPLY_EVENT, "event_payload": {"turn_id": seeded}}})
    gate = Gate(make_manager(store))
    gate.opened.set()
    with bot_server(gate, api) as client:
        response = deliver(client, event_body(mention("set an alarm", ts="700.1"), event_id="Ev70"), retry=1)

    found = seeded == "slack:Ev70"
    assert response.status_code == 200 and store.marked("slack-event:Ev70")
    assert (len(fake.posts), len(gate.turns)) == ((1, 0) if found else (2, 1))  # found: not even read again


def test_a_thread_that_cannot_be_read_still_gets_the_reply_and_names_the_scope(
        fake_slack: tuple[FakeSlack, str], caplog: pytest.LogCaptureFixture) -> None:
    fake, api = fake_slack
    fake.refuse["conversations.replies"] = "missing_scope"
    store = MemoryStore()
    store.seen("slack-started:Ev71", 60)  # resumed after a death; the thread is unreadable
    with caplog.at_level(logging.ERROR, logger="bot.adapters.slack"), bot_server(make_manager(store), api) as client:
        response = deliver(client, event_body(mention("tell a joke", ts="710.1"), event_id="Ev71"), retry=1)

    assert response.status_code == 200 and [p["text"] for p in fake.posts] == ["(chat) tell a joke"]
    assert "missing_scope" in caplog.text and "channels:history" in caplog.text


@pytest.mark.parametrize(("message", "expected"), [
    ({"user": BOT_USER, "metadata": {"event_type": REPLY_EVENT, "event_payload": {"turn_id": "slack:E1"}}}, True),
    ({"user": BOT_USER, "metadata": {"event_type": REPLY_EVENT, "event_payload": {"turn_id": "slack:E2"}}}, False),
    ({"user": BOT_USER, "metadata": {"event_type": "task_created", "event_payload": {"turn_id": "slack:E1"}}}, False),
    ({"user": "UALICE", "metadata": {"event_type": REPLY_EVENT, "event_payload": {"turn_id": "slack:E1"}}}, False),
    ({"user": BOT_USER, "metadata": {"event_type": REPLY_EVENT, "event_payload": "slack:E1"}}, False),
    ({"user": BOT_USER, "text": "For what time?"}, False),
])
def test_only_the_bots_message_tagged_with_the_turn_counts_as_its_reply(message: dict, expected: bool) -> None:
    assert carries_turn(message, "slack:E1", BOT_USER) is expected


class PagedThread:
    """conversations.replies over pages of one message each; the reply is on page `reply_on`."""

    def __init__(self, pages: int, reply_on: int | None) -> None:
        self.pages, self.reply_on, self.asked = pages, reply_on, []

    async def conversations_replies(self, *, cursor: str | None = None, **args: object) -> dict:
        page = int(cursor or 0)
        self.asked.append((cursor, args["oldest"], args["include_all_metadata"]))
        tagged = {"event_type": REPLY_EVENT, "event_payload": {"turn_id": "slack:E1" if page == self.reply_on else "x"}}
        more = page + 1 < self.pages
        return {"messages": [{"user": BOT_USER, "metadata": tagged}], "has_more": more,
                "response_metadata": {"next_cursor": str(page + 1) if more else ""}}


@pytest.mark.parametrize(("pages", "reply_on", "found", "asked"), [
    (3, 2, True, 3), (3, None, False, 3), (50, 49, False, 10),  # a thread is searched 10 pages deep at most
])
def test_the_thread_is_read_page_by_page(pages: int, reply_on: int | None, found: bool, asked: int) -> None:
    thread = PagedThread(pages, reply_on)
    result = asyncio.run(posted_before(thread, channel="C1", thread_ts="1.1", after_ts="1.1",  # type: ignore[arg-type]
                                       turn_id="slack:E1", bot_user_id=BOT_USER))

    assert result is found and len(thread.asked) == asked
    assert thread.asked[:2] == [(None, "1.1", True), ("1", "1.1", True)]


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False
