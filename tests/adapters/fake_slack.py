"""A tiny stand-in for Slack's Web API (auth.test, chat.postMessage, conversations.replies) that
records what the bot posts and keeps its threads, and Events API requests signed the way Slack
signs them; `fake_slack` (a fixture: import it by name), `bot_server` and `deliver` run the bot's
server against it."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from adapter_fixtures import running
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.adapters.http import create_app
from bot.config.server import ServerConfig, SlackConfig, SlackSecrets

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
BOT_USER = "UBOT"
TEAM = "T1"


class FakeSlack:
    """The Web API at `/api/<method>`; `posts` holds each chat.postMessage's arguments (and the `ts`
    it was given), `calls` every method called, in order. `refuse` maps a method to the error it
    answers (`missing_scope`, ...)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.refuse: dict[str, str] = {}
        self._lock = threading.Lock()
        self._clock = itertools.count(1)
        self.app = Starlette(routes=[Route("/api/{method}", self.api, methods=["POST", "GET"])])

    async def api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
            return JSONResponse({"ok": False, "error": "not_authed"})
        args = await _arguments(request)
        with self._lock:
            self.calls.append(method)
            if method in self.refuse:
                return JSONResponse({"ok": False, "error": self.refuse[method]})
            if method == "chat.postMessage":
                self.post(args)
        if method == "auth.test":
            return JSONResponse({"ok": True, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "BBOT",
                                 "team": "test", "user": "bot", "url": "https://test.slack.com/"})
        if method == "chat.postMessage":
            return JSONResponse({"ok": True, "channel": args.get("channel"), "ts": self.posts[-1]["ts"]})
        if method == "conversations.replies":
            return JSONResponse({"ok": True, "messages": self.thread(args), "has_more": False})
        return JSONResponse({"ok": False, "error": "unknown_method"})

    def post(self, args: dict[str, Any]) -> None:
        """Record a message of the bot (what chat.postMessage does; tests may call it to seed a thread)."""
        self.posts.append(args | {"ts": f"{int(time.time()) + 10_000}.{next(self._clock):06d}"})

    def thread(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's messages in thread `ts` after `oldest`, as conversations.replies lists them:
        metadata only with `include_all_metadata` (Slack leaves it out otherwise)."""
        with_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
        oldest = float(args.get("oldest") or 0)
        return [{"type": "message", "user": BOT_USER, "bot_id": "BBOT", "text": post.get("text"), "ts": post["ts"],
                 "thread_ts": post.get("thread_ts")} | ({"metadata": _json(post["metadata"])} if with_metadata and
                                                       "metadata" in post else {})
                for post in self.posts
                if post.get("channel") == args.get("channel") and post.get("thread_ts") == args.get("ts")
                and float(post["ts"]) > oldest]


async def _arguments(request: Request) -> dict[str, Any]:
    if request.method == "GET":  # conversations.replies
        return dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        return await request.json()
    return dict(parse_qsl((await request.body()).decode()))  # form-encoded (auth.test)


def _json(value: Any) -> Any:
    """Metadata as sent: an object in a JSON body, a JSON string in a form."""
    return json.loads(value) if isinstance(value, str) else value


def event_body(event: dict[str, Any], *, event_id: str) -> str:
    """An Events API `event_callback` envelope around `event`, as Slack posts it."""
    return json.dumps({"token": "legacy", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": event,
                       "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]})


def mention(text: str, *, ts: str, thread_ts: str | None = None, user: str = "UALICE") -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts,
             "channel": "C1", "event_ts": ts}
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


def signed_headers(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   retry: int | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": f"v0={digest}"}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


SECRETS = SlackSecrets(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)


@pytest.fixture
def fake_slack() -> Iterator[tuple[FakeSlack, str]]:
    """The fake Web API served on a loopback port, and its base URL (the bot's `api_url`)."""
    fake = FakeSlack()
    with running(fake.app) as base:
        yield fake, f"{base}/api/"


@contextmanager
def bot_server(manager: object, api_url: str, **slack: object) -> Iterator[httpx.Client]:
    """The bot's server (Events API mounted, `slack` as SlackConfig fields) and a client to it."""
    settings = ServerConfig(slack=SlackConfig(api_url=api_url, **slack))
    with running(create_app(manager, settings, slack=SECRETS)) as base, \
            httpx.Client(base_url=base, timeout=5) as client:
        yield client


def deliver(client: httpx.Client, body: str, **signing: object) -> httpx.Response:
    """Post `body` to the Events API as Slack does, signed (`signing`: see signed_headers)."""
    return client.post("/slack/events", content=body, headers=signed_headers(body, **signing))
