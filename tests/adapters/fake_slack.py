"""A tiny stand-in for Slack's Web API (auth.test, chat.postMessage) that records what the bot
posts, and Events API requests signed the way Slack signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
BOT_USER = "UBOT"
TEAM = "T1"


class FakeSlack:
    """The Web API at `/api/<method>`; `posts` holds each chat.postMessage's arguments."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/api/{method}", self.api, methods=["POST", "GET"])])

    async def api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
            return JSONResponse({"ok": False, "error": "not_authed"})
        args = await _arguments(request)
        with self._lock:
            self.calls.append(method)
            if method == "chat.postMessage":
                self.posts.append(args)
        if method == "auth.test":
            return JSONResponse({"ok": True, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "BBOT",
                                 "team": "test", "user": "bot", "url": "https://test.slack.com/"})
        if method == "chat.postMessage":
            return JSONResponse({"ok": True, "channel": args.get("channel"), "ts": f"{time.time():.6f}"})
        return JSONResponse({"ok": False, "error": "unknown_method"})


async def _arguments(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        return await request.json()
    return dict(parse_qsl((await request.body()).decode()))  # form-encoded (auth.test)


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
