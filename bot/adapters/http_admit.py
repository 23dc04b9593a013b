"""What a request must pass before its turn runs: the API key, readiness, the turn queue, the rate
limits (counted in the store), the body size, and a client still waiting; each refusal is an ApiError.
"""

import asyncio
import logging
from collections.abc import Awaitable
from math import ceil
from typing import TypeVar

from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.adapters.auth import ApiKeys
from bot.adapters.http_errors import ApiError
from bot.adapters.limits import Limits, Refusal
from bot.adapters.runner import TurnRunner
from bot.store import StoreError
from bot.types import Reply

__all__ = ["BodyLimit", "BodyTooLarge", "client_of", "count_hit", "not_handled", "not_ready", "overloaded",
           "rate_limited", "unless_gone"]

log = logging.getLogger("bot.adapters.http")
T = TypeVar("T")
DISCONNECT_POLL_SECONDS = 0.1  # how often a waiting request checks that its client is still there


def client_of(request: Request, api_keys: ApiKeys) -> str:
    """Who sends: the id of a valid API key (401 without one, when keys are set), else the address."""
    if not api_keys:
        return request.client.host if request.client else "unknown"
    given = request.headers.get("authorization")
    key = api_keys.check(given)
    if key is None:
        raise ApiError(401, "unauthorized", "this server needs an API key: send the header "
                       "'Authorization: Bearer <key>'" + _why_refused(given),
                       field="authorization", fix="ask the bot's operator for a key (BOT_API_KEYS on the server)",
                       headers={"WWW-Authenticate": "Bearer"})
    return key


def _why_refused(given: str | None) -> str:
    """What was wrong with the header, without a word about the key itself."""
    if not given:
        return ""
    if not given.lower().startswith("bearer "):
        return " (the word 'Bearer' and a space must come before the key)"
    return " (the key given is not valid)"


async def count_hit(runner: TurnRunner, limits: Limits, conversation_id: str, client: str,
                 keyed: bool) -> Refusal | None:
    try:
        return await runner.store_call(limits.check, runner.handler.store, conversation_id=conversation_id,
                                       client=client, client_field="authorization" if keyed else "client")
    except StoreError as err:  # the shared count is unreachable: refuse rather than let everyone through
        log.error("rate limit not counted: %s", err)
        raise ApiError(503, "store_unavailable", "the conversation store did not answer",
                       fix="retry in a moment with the same turn_id", headers={"Retry-After": "1"}) from None


async def unless_gone(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client hangs up first (a turn still queued never runs)."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_SECONDS)
        if done:
            return task.result()
        if await request.is_disconnected():
            task.cancel()
            raise ApiError(499, "client_closed", "the client closed the connection before the reply",
                           fix="send the message again with the same turn_id")


def not_ready(runner: TurnRunner) -> ApiError:
    if runner.error is not None:
        return ApiError(503, "start_failed", f"the bot could not start: {runner.error}",
                        fix="read the server's log, fix the cause and restart it")
    return ApiError(503, "not_ready", "the bot is still starting (loading the model)",
                    fix="retry in a few seconds; GET /readyz answers 200 once it is ready",
                    headers={"Retry-After": "5"})


def overloaded(runner: TurnRunner) -> ApiError:
    return ApiError(503, "overloaded", f"the bot is busy: {runner.waiting} turns already wait for the model",
                    fix="retry after the Retry-After seconds", headers={"Retry-After": "2"})


def rate_limited(refusal: Refusal, conversation_id: str) -> ApiError:
    who = f"conversation '{conversation_id}'" if refusal.field == "conversation_id" else (
        "this API key" if refusal.field == "authorization" else "this client")
    wait = ceil(refusal.wait)
    return ApiError(429, "rate_limited", f"{who} sent more than {refusal.turns} messages in {refusal.seconds:g} s",
                    field=refusal.field, fix=f"wait {wait} s before sending again", headers={"Retry-After": str(wait)})


def not_handled(reply: Reply) -> ApiError:
    return ApiError(503, "turn_not_handled", f"the turn was not handled: {reply.text}",
                    fix="send the same message again with the same turn_id (a turn is applied once, however "
                    "often it is sent)", headers={"Retry-After": "1"})


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


class BodyLimit:
    """Refuse a body over `max_bytes` with 413 before anything reads it whole (ASGI middleware)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        too_large = declared.isdigit() and int(declared) > self.max_bytes
        received = 0

        async def counted() -> Message:
            # Raised where the endpoint reads the body, so the app's HTTPException handler answers.
            nonlocal received
            if too_large:  # declared too large: refuse before reading any of it
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # a chunked body, or one longer than it declared
                raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
