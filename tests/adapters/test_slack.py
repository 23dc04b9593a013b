"""Slack: really signed Events API requests -> the bot's server (uvicorn) -> a real DialogueManager
(scripted model) -> replies posted to a local fake Slack Web API. Delivery across workers and
deaths: test_slack_delivery.py."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from adapter_fixtures import Gate, make_manager, wait_until
from fake_slack import (BOT_TOKEN, BOT_USER, SECRETS, TEAM, FakeSlack, bot_server, deliver, event_body,
                        fake_slack, mention, signed_headers)  # noqa: F401 - fake_slack is a fixture

from bot.adapters.http import create_app
from bot.adapters.runner import TurnRunner
from bot.adapters.slack import SocketMode, answers_in_flight, escape, message_from_event, strip_mention
from bot.config.server import ServerConfig, SlackConfig, SlackSecrets
from bot.errors import ConfigError

# No sleeping to prove that no reply comes: events are answered before their ack
# (process_before_response), so once every delivery has its response and `answers_in_flight()` is 0,
# nothing is left that could still post.


def test_a_thread_is_one_conversation(fake_slack: tuple[FakeSlack, str]) -> None:
    fake, api = fake_slack
    with bot_server(make_manager(), api) as client:
        deliver(client, event_body(mention("set an alarm", ts="100.1"), event_id="Ev10"))
        wait_until(lambda: len(fake.posts) == 1)
        deliver(client, event_body(mention("7 am", ts="100.2", thread_ts="100.1"), event_id="Ev11"))
        wait_until(lambda: len(fake.posts) == 2)

    assert [(p["thread_ts"], p["text"]) for p in fake.posts] == [("100.1", "For what time?"),
                                                                  ("100.1", "Alarm set for 7 am.")]


def test_a_direct_message_is_answered_and_bot_messages_are_not(fake_slack: tuple[FakeSlack, str]) -> None:
    fake, api = fake_slack
    direct = {"type": "message", "channel_type": "im", "channel": "D1", "user": "UALICE", "text": "tell a joke",
              "ts": "200.1"}
    from_a_bot = direct | {"bot_id": "BOTHER", "ts": "200.2", "text": "tell a joke too"}
    edited = direct | {"subtype": "message_changed", "ts": "200.3"}
    with bot_server(make_manager(), api) as client:
        statuses = [deliver(client, event_body(event, event_id=f"Ev2{number}")).status_code
                    for number, event in enumerate([from_a_bot, edited, direct])]
        assert answers_in_flight() == 0

    assert statuses == [200, 200, 200]
    assert [(p["channel"], p["thread_ts"], p["text"]) for p in fake.posts] == [("D1", "200.1", "(chat) tell a joke")]


@pytest.mark.parametrize("signing", [{"secret": "not-the-secret"}, {"timestamp": int(time.time()) - 6 * 60}],
                         ids=["forged", "stale"])
def test_a_forged_or_stale_request_gets_401_and_no_reply(fake_slack: tuple[FakeSlack, str], signing: dict) -> None:
    fake, api = fake_slack
    gate = Gate(make_manager())
    gate.opened.set()
    body = event_body(mention("set an alarm for 7 am", ts="300.1"), event_id="Ev30")
    with bot_server(gate, api) as client:
        refused = deliver(client, body, **signing)
        unsigned = client.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
        assert answers_in_flight() == 0

    assert (refused.status_code, unsigned.status_code) == (401, 401)
    assert fake.posts == [] and gate.turns == [] and "chat.postMessage" not in fake.calls


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "unsigned"),
    ({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}, "bad_signature"),
    ({"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "sha1=00"}, "bad_signature"),
])
def test_unsigned_or_malformed_signature_headers_get_401_json(fake_slack: tuple[FakeSlack, str], headers: dict,
                                                              code: str) -> None:
    _, api = fake_slack
    with bot_server(make_manager(), api) as client:
        response = client.post("/slack/events", content="not json at all", headers=headers)

    assert response.status_code == 401 and response.json()["error"]["code"] == code


def test_a_signed_body_that_is_no_slack_event_gets_a_json_4xx(fake_slack: tuple[FakeSlack, str]) -> None:
    fake, api = fake_slack
    bodies = ["not json at all", "[1, 2]", "{}", '{"type": "event_callback"}', '{"type": "event_callback", "event": "x"}',
              "payload=%7B"]
    with bot_server(make_manager(), api) as client:
        responses = [deliver(client, body) for body in bodies]

    assert [r.status_code for r in responses] == [400, 400, 404, 404, 400, 400], [r.text for r in responses]
    assert [r.json()["error"]["code"] for r in responses] == ["bad_request"] * 2 + ["unhandled"] * 2 + ["bad_request"] * 2
    assert fake.posts == []


def test_url_verification_is_answered(fake_slack: tuple[FakeSlack, str]) -> None:
    _, api = fake_slack
    body = '{"token": "legacy", "challenge": "abc123", "type": "url_verification"}'
    with bot_server(make_manager(), api) as client:
        response = deliver(client, body)

    assert response.status_code == 200 and "abc123" in response.text


def test_events_before_the_model_is_loaded_get_503_so_slack_retries() -> None:
    runner = TurnRunner(build=make_manager)
    app = create_app(runner, ServerConfig(), slack=SECRETS)  # lifespan not run: the manager is not built
    body = event_body(mention("hi", ts="500.1"), event_id="Ev50")
    transport = httpx.ASGITransport(app=app)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            return await client.post("/slack/events", content=body, headers=signed_headers(body))

    assert asyncio.run(post()).status_code == 503


def test_only_half_of_the_slack_settings_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        SlackSecrets.from_env({"SLACK_SIGNING_SECRET": "s"}).wants_events_api()
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        SlackSecrets.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN}).check_socket_mode()
    assert SlackSecrets.from_env({}).wants_events_api() is False


def test_secrets_never_show_in_their_repr() -> None:
    secrets = SlackSecrets.from_env({"SLACK_SIGNING_SECRET": "s3cr3t", "SLACK_BOT_TOKEN": "xoxb-s3cr3t"})

    assert "s3cr3t" not in repr(secrets) and "s3cr3t" not in str(secrets.model_dump())


def test_socket_mode_is_built_with_the_app_token() -> None:
    secrets = SlackSecrets(bot_token=BOT_TOKEN, app_token="xapp-test")

    async def build() -> SocketMode:
        socket = SocketMode(TurnRunner(make_manager()), SlackConfig(), secrets)
        await socket.handler.client.close()  # built, never connected: no real Slack in tests
        return socket

    socket = asyncio.run(build())
    assert socket.handler.app_token == "xapp-test"
    assert socket.handler.client.web_client.base_url == SlackConfig().api_url


@pytest.mark.parametrize(("event", "expected"), [
    (mention("set an alarm", ts="1.1"), ("set an alarm", "1.1")),
    (mention("7 am", ts="1.2", thread_ts="1.1"), ("7 am", "1.1")),
    ({"type": "app_mention", "user": "U2", "text": f"<@{BOT_USER}> a &lt; b &amp; c", "ts": "1.3", "channel": "C1"},
     ("a < b & c", "1.3")),
    ({"type": "message", "channel_type": "channel", "user": "U2", "text": "hi", "ts": "1.4", "channel": "C1"}, None),
    ({"type": "message", "channel_type": "im", "user": BOT_USER, "text": "hi", "ts": "1.5", "channel": "D1"}, None),
    ({"type": "app_mention", "user": "U2", "text": f"<@{BOT_USER}>", "ts": "1.6", "channel": "C1"}, None),
])
def test_message_from_event(event: dict, expected: tuple[str, str] | None) -> None:
    message = message_from_event(event, event_id="Ev", team_id=TEAM, bot_user_id=BOT_USER)

    if expected is None:
        assert message is None
    else:
        assert (message.turn.text, message.thread_ts) == expected
        assert message.turn.conversation_id == f"slack:{TEAM}:{event['channel']}:{expected[1]}"
        assert (message.turn.turn_id, message.turn.channel) == ("slack:Ev", "slack")


def test_mentions_and_replies_are_escaped_both_ways() -> None:
    assert strip_mention("<@UBOT|bot> hi <@UOTHER>", "UBOT").strip() == "hi <@UOTHER>"
    assert strip_mention("<@UBOT> hi", None).strip() == "hi"
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
