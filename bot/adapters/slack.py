"""Slack, through slack-bolt: the Events API mounted in the server (`/slack/events`), or Socket Mode.

Bolt verifies each request's signature (forged, or older than 5 minutes: 401); a request whose
signature headers are missing or malformed gets 401 JSON before bolt sees it, one bolt cannot
parse 400. Delivery is at least once and never twice: an event is answered before its ack, and
- marked done (in the conversation store, shared by every worker) only once its reply is posted;
- claimed for `claim_seconds` while a worker works on it; a delivery that finds the claim gets 503,
  and so does one not posted within `ack_seconds` (Slack waits 3 s), so Slack retries later;
- a retry after a worker died between the turn and the post finds the claim gone, and the turn
  (by its turn_id) answers with the reply it stored instead of reading again: one post;
- a retry after a worker died between the post and the mark (its claim was taken, never finished)
  finds the reply in the thread by the turn id in its message metadata, and posts nothing
  (bot/adapters/slack_post.py).
Replies go to the message's thread; the conversation is that thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.adapters.runner import QueueFull, TurnRunner
from bot.adapters.slack_post import escape, post_reply, posted_before
from bot.config.server import SlackConfig, SlackSecrets
from bot.types import Turn

__all__ = ["CHANNEL", "SlackMessage", "SocketMode", "answers_in_flight", "build_slack_app", "escape",
           "message_from_event", "mount_events_api"]

log = logging.getLogger("bot.adapters.slack")

CHANNEL = "slack"
API_TIMEOUT_SECONDS = 10
READY_POLL_SECONDS = 0.5
_MENTION = r"<@{user}(?:\|[^>]*)?>"
_WORKING: set[asyncio.Task[Response]] = set()  # events answered after their 503 (kept from the collector)


@dataclass
class Delivery:
    """What one Events API request learned: `retry_later` turns bolt's 200 into a 503."""

    retry_later: str | None = None


@dataclass(frozen=True)
class SlackMessage:
    """A Slack message the bot answers: the turn, and where its reply goes."""

    turn: Turn
    channel: str
    thread_ts: str
    ts: str = ""  # the message's own time stamp: the reply comes after it in the thread


def message_from_event(event: Mapping[str, Any], *, event_id: str, team_id: str | None,
                       bot_user_id: str | None) -> SlackMessage | None:
    """The turn in an `app_mention`, or a direct `message`; None for what the bot must not answer
    (edits and other subtypes, messages of bots, itself included, channel chatter, empty text)."""
    user = event.get("user")
    if event.get("subtype") or event.get("bot_id") or not user or user == bot_user_id:
        return None
    if event.get("type") == "message" and event.get("channel_type") != "im":
        return None  # in channels the bot answers mentions (app_mention), not every message
    text = unescape(strip_mention(str(event.get("text") or ""), bot_user_id)).strip()
    channel, ts = event.get("channel"), event.get("ts")
    if not text or not channel or not ts:
        return None
    thread_ts = str(event.get("thread_ts") or ts)
    conversation_id = f"slack:{team_id or '-'}:{channel}:{thread_ts}"
    turn = Turn(conversation_id=conversation_id, text=text, user_id=str(user), channel=CHANNEL,
                turn_id=f"slack:{event_id}")
    return SlackMessage(turn, str(channel), thread_ts, str(ts))


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove `<@BOTID>` (or, with the id unknown, a leading mention): the rest is what was said."""
    if bot_user_id:
        return re.sub(_MENTION.format(user=re.escape(bot_user_id)), " ", text)
    return re.sub(r"^\s*" + _MENTION.format(user=r"[UW][A-Z0-9]+"), " ", text)


def unescape(text: str) -> str:
    """Slack escapes &, < and > in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def answers_in_flight() -> int:
    """Events still being answered after their 503 (tests and shutdown wait for none)."""
    return len(_WORKING)


def build_slack_app(runner: TurnRunner, config: SlackConfig, secrets: SlackSecrets) -> AsyncApp:
    """A bolt app that answers mentions and direct messages through `runner`."""
    if secrets.bot_token is None:
        raise ValueError("a Slack app needs SLACK_BOT_TOKEN")
    client = AsyncWebClient(token=secrets.bot_token.get_secret_value(), base_url=config.api_url,
                            timeout=API_TIMEOUT_SECONDS)
    signing = secrets.signing_secret.get_secret_value() if secrets.signing_secret else ""
    # Answered before the ack: an event acked and then lost with its worker would never come back.
    app = AsyncApp(client=client, signing_secret=signing, process_before_response=True, logger=log,
                   name="bot")

    async def on_event(event: dict, body: dict, context: Any, request: Any) -> None:
        await _answer(runner, config, event, body, context, request)

    app.event("app_mention")(on_event)
    app.event("message")(on_event)
    return app


async def _answer(runner: TurnRunner, config: SlackConfig, event: Mapping[str, Any], body: Mapping[str, Any],
                  context: Any, request: Any) -> None:
    """Claim the event, answer its turn, post the reply, then mark it done (the docstring's rule)."""
    event_id = str(body.get("event_id") or "")
    message = message_from_event(event, event_id=event_id, team_id=body.get("team_id"),
                                 bot_user_id=context.bot_user_id)
    if message is None or not event_id:
        return
    delivery: Delivery = context.get("delivery") or Delivery()  # Socket Mode passes none
    retry = request.headers.get("x-slack-retry-num", ["-"])[0] if request is not None else "-"
    store = runner.handler.store
    if await runner.store_call(store.marked, f"slack-event:{event_id}"):
        log.info("Slack event %s delivered again (retry %s): already answered, not answered twice", event_id, retry)
        return
    if await runner.seen(f"slack-claim:{event_id}", config.claim_seconds):
        delivery.retry_later = f"event {event_id} is being answered by a worker"
        log.info("Slack event %s delivered again (retry %s) while a worker answers it", event_id, retry)
        return
    # Claimed before and never marked done: that worker died, perhaps after posting the reply.
    resumed = await runner.seen(f"slack-started:{event_id}", config.dedup_seconds)
    delivery.retry_later = await _reply(runner, config, message, context, resumed=resumed)
    if delivery.retry_later is None:
        await runner.seen(f"slack-event:{event_id}", config.dedup_seconds)


async def _reply(runner: TurnRunner, config: SlackConfig, message: SlackMessage, context: Any, *,
                 resumed: bool) -> str | None:
    """Answer and post; None once posted (or found posted), else why Slack should deliver it again."""
    turn_id = str(message.turn.turn_id)
    if resumed and await posted_before(context.client, channel=message.channel, thread_ts=message.thread_ts,
                                       after_ts=message.ts, turn_id=turn_id, bot_user_id=context.bot_user_id):
        log.info("Slack turn %s: its reply is already in the thread (the worker that posted it died before "
                 "marking it); not posted again", turn_id)
        return None
    try:
        reply = await runner.run(message.turn)
    except QueueFull as err:
        return f"overloaded: {err}"
    if not reply.handled:  # not applied (store down, conversation busy): Slack's retry resends it
        return f"turn not handled: {reply.text}"
    return await post_reply(context.client, channel=message.channel, thread_ts=message.thread_ts, text=reply.text,
                            turn_id=turn_id, api_url=config.api_url)


def mount_events_api(app: FastAPI, runner: TurnRunner, config: SlackConfig, secrets: SlackSecrets) -> AsyncApp:
    """Serve Slack's Events API at `config.events_path` of `app`."""
    slack = build_slack_app(runner, config, secrets)
    handler = AsyncSlackRequestHandler(slack)

    async def events(request: Request) -> Response:
        if not runner.ready:  # acking now would drop the event; a 503 makes Slack retry later
            return _error(503, "not_ready", "the bot is still starting", "Slack retries by itself", retry_after=5)
        refused = _unsigned(request)
        if refused is not None:
            return refused
        delivery = Delivery()
        task = asyncio.ensure_future(handler.handle(request, addition_context_properties={"delivery": delivery}))
        done, _ = await asyncio.wait({task}, timeout=config.ack_seconds)
        if not done:  # Slack gives up at 3 s: say "later", and let the work finish and mark itself
            _WORKING.add(task)
            task.add_done_callback(_WORKING.discard)
            return _error(503, "retry_later", "the reply is still being worked on", "Slack retries by itself",
                          retry_after=60)
        return _outcome(task, delivery, await request.body())

    app.add_api_route(config.events_path, events, methods=["POST"], include_in_schema=False)
    app.state.slack = slack
    return slack


def _outcome(task: asyncio.Task[Response], delivery: Delivery, body: bytes) -> Response:
    """Bolt's answer in the API's JSON shape; never a bare 500."""
    try:
        response = task.result()
    except Exception as err:  # noqa: BLE001 - a body bolt cannot read is the sender's mistake
        log.warning("Slack request not understood: %s", err)
        return _not_an_event()
    if response.status_code >= 500:  # bolt failed: on a malformed event, or when Slack is unreachable
        if _malformed_event(body):
            return _not_an_event()
        return _error(503, "retry_later", "the event could not be processed now", "Slack retries by itself",
                      retry_after=60)
    if response.status_code == 404:  # bolt has no listener for it (no app_mention / message)
        return _error(404, "unhandled", "the bot does not answer this kind of request",
                      "subscribe the app to app_mention and message.im events only")
    if response.status_code == 401:
        return _error(401, "bad_signature", "the Slack signature does not match or is stale",
                      "check SLACK_SIGNING_SECRET; Slack requests older than 5 minutes are refused")
    if delivery.retry_later is not None:
        return _error(503, "retry_later", delivery.retry_later, "Slack retries by itself", retry_after=60)
    return response


def _not_an_event() -> JSONResponse:
    return _error(400, "bad_request", "the body is not a Slack event", "send what Slack's Events API sends")


def _malformed_event(body: bytes) -> bool:
    """True for a JSON body that is no Events API envelope (an `event` that is no object, ...)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return True
    if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
        return True
    return envelope["type"] == "event_callback" and not isinstance(envelope.get("event"), dict)


def _unsigned(request: Request) -> Response | None:
    """401 JSON for a request without Slack's signature headers, or with a timestamp that is no number."""
    stamp, signature = request.headers.get("x-slack-request-timestamp"), request.headers.get("x-slack-signature")
    if not stamp or not signature:
        return _error(401, "unsigned", "the request has no X-Slack-Request-Timestamp / X-Slack-Signature",
                      "only Slack may post here; it signs every request with the app's signing secret")
    if not stamp.strip().isdigit() or not signature.startswith("v0="):
        return _error(401, "bad_signature", "X-Slack-Request-Timestamp must be a Unix time in seconds and "
                      "X-Slack-Signature must start with v0=", "send the headers Slack sends")
    return None


def _error(status: int, code: str, message: str, fix: str, *, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": {"code": code, "message": message, "field": None, "fix": fix}},
                        status_code=status, headers=headers)


class SocketMode:
    """Slack over a WebSocket (no public URL needed): connects once the manager is ready."""

    def __init__(self, runner: TurnRunner, config: SlackConfig, secrets: SlackSecrets) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        secrets.check_socket_mode()
        self.runner = runner
        self.app = build_slack_app(runner, config, secrets)
        self.handler = AsyncSocketModeHandler(self.app, secrets.app_token.get_secret_value())  # type: ignore[union-attr]
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        while not self.runner.ready:  # events acked before the model loads would be lost
            if self.runner.error is not None:
                return
            await asyncio.sleep(READY_POLL_SECONDS)
        await self.handler.connect_async()
        log.info("connected to Slack in Socket Mode")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.handler.close_async()
