"""Slack, through slack-bolt: the Events API mounted in the server (`/slack/events`), or Socket Mode.

Bolt verifies each request's signature (forged, or older than 5 minutes: 401) and acks at once;
the turn is answered after the ack (`process_before_response=False`), so Slack never waits 3 s.
Slack retries a delivery it thinks failed (`X-Slack-Retry-Num`); each event_id is marked in the
conversation store, which every worker shares, so a retry never produces a second reply.
Replies go to the message's thread; the conversation is that thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.adapters.runner import TurnRunner
from bot.config.server import SlackConfig, SlackSecrets
from bot.types import Turn

__all__ = ["CHANNEL", "SlackMessage", "SocketMode", "build_slack_app", "escape", "message_from_event",
           "mount_events_api"]

log = logging.getLogger("bot.adapters.slack")

CHANNEL = "slack"
API_TIMEOUT_SECONDS = 10
READY_POLL_SECONDS = 0.5
_MENTION = r"<@{user}(?:\|[^>]*)?>"


@dataclass(frozen=True)
class SlackMessage:
    """A Slack message the bot answers: the turn, and where its reply goes."""

    turn: Turn
    channel: str
    thread_ts: str


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
    return SlackMessage(turn, str(channel), thread_ts)


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove `<@BOTID>` (or, with the id unknown, a leading mention): the rest is what was said."""
    if bot_user_id:
        return re.sub(_MENTION.format(user=re.escape(bot_user_id)), " ", text)
    return re.sub(r"^\s*" + _MENTION.format(user=r"[UW][A-Z0-9]+"), " ", text)


def unescape(text: str) -> str:
    """Slack escapes &, < and > in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    """The reply as Slack text: &, < and > escaped, so a reply can never ping `<!channel>` or a user."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_slack_app(runner: TurnRunner, config: SlackConfig, secrets: SlackSecrets) -> AsyncApp:
    """A bolt app that answers mentions and direct messages through `runner`."""
    if secrets.bot_token is None:
        raise ValueError("a Slack app needs SLACK_BOT_TOKEN")
    client = AsyncWebClient(token=secrets.bot_token.get_secret_value(), base_url=config.api_url,
                            timeout=API_TIMEOUT_SECONDS)
    signing = secrets.signing_secret.get_secret_value() if secrets.signing_secret else ""
    app = AsyncApp(client=client, signing_secret=signing, process_before_response=False, logger=log,
                   name="bot")

    async def on_event(event: dict, body: dict, context: Any, request: Any) -> None:
        await _answer(runner, config, event, body, context, request)

    app.event("app_mention")(on_event)
    app.event("message")(on_event)
    return app


async def _answer(runner: TurnRunner, config: SlackConfig, event: Mapping[str, Any], body: Mapping[str, Any],
                  context: Any, request: Any) -> None:
    """After the ack: de-duplicate by event_id, answer the turn, post the reply in its thread."""
    event_id = str(body.get("event_id") or "")
    message = message_from_event(event, event_id=event_id, team_id=body.get("team_id"),
                                 bot_user_id=context.bot_user_id)
    if message is None or not event_id:
        return
    if await runner.seen(f"slack-event:{event_id}", config.dedup_seconds):
        retry = request.headers.get("x-slack-retry-num", ["-"])[0] if request is not None else "-"
        log.info("Slack event %s delivered again (retry %s): already taken, not answered twice", event_id, retry)
        return
    reply = await runner.run(message.turn)
    try:
        await context.client.chat_postMessage(channel=message.channel, thread_ts=message.thread_ts,
                                               text=escape(reply.text))
    except SlackApiError as err:
        log.error("Slack refused the reply to event %s in %s: %s\n  fix: invite the bot to the channel and "
                  "grant chat:write", event_id, message.channel, err.response.get("error"))
    except Exception as err:  # noqa: BLE001 - network trouble must not kill the server, only this reply
        log.error("could not post the reply to Slack event %s: %s (is the Slack API at %s reachable?)",
                  event_id, err, config.api_url)


def mount_events_api(app: FastAPI, runner: TurnRunner, config: SlackConfig, secrets: SlackSecrets) -> AsyncApp:
    """Serve Slack's Events API at `config.events_path` of `app`."""
    slack = build_slack_app(runner, config, secrets)
    handler = AsyncSlackRequestHandler(slack)

    async def events(request: Request) -> Response:
        if not runner.ready:  # acking now would drop the event; a 503 makes Slack retry later
            return JSONResponse({"error": "the bot is still starting"}, status_code=503, headers={"Retry-After": "5"})
        return await handler.handle(request)

    app.add_api_route(config.events_path, events, methods=["POST"], include_in_schema=False)
    app.state.slack = slack
    return slack


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
