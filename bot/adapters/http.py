"""The HTTP API and the web chat page: JSON in, `DialogueManager.handle`, JSON or server-sent events out.

    app = create_app(manager, ServerConfig())      # tests pass a manager over a scripted model
    uvicorn.run(app)                               # `bot serve` does this (bot/adapters/server.py)

Endpoints: POST /v1/conversations/{id}/messages (the reply as JSON), POST .../messages/stream (a
`typing` event, `token` events, then the `reply`), GET /healthz, GET /readyz, the page at /, and
/openapi.json. Translation only: what to answer is the dialogue manager's business.

With API keys configured (bot/adapters/auth.py) every /v1 request needs `Authorization: Bearer KEY`.
The API's conversation `c1` is the store's `api:c1`: no client of the API can reach a Slack thread's
(or any other channel's) conversation, whatever id it picks.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time,
# and the request model is built per app (its size limit comes from the settings).

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from bot.adapters.auth import ApiKeys
from bot.adapters.http_admit import (BodyLimit, client_of, count_hit, not_handled, not_ready, overloaded,
                                     rate_limited, unless_gone)
from bot.adapters.http_errors import ApiError, ErrorBody, ErrorDetail, error_response, from_validation
from bot.adapters.limits import Limits
from bot.adapters.runner import NotReady, QueueFull, TurnHandler, TurnRunner
from bot.config.server import ServerConfig, SlackSecrets
from bot.types import Reply, Turn

__all__ = ["CHANNEL", "WEB_DIR", "Health", "create_app", "sse"]

log = logging.getLogger("bot.adapters.http")

CHANNEL = "api"
WEB_DIR = FilePath(__file__).parent / "web"
CONVERSATION_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
VISIBLE = r"[^ \t\n\r\f\v]"  # text needs one character besides ASCII spaces (same in every regex dialect)
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                "Referrer-Policy": "no-referrer"}
ConversationId = Annotated[str, Path(min_length=1, max_length=200 - len(CHANNEL) - 1, pattern=CONVERSATION_ID,
                                     description="Any id the client picks; the same id continues a conversation.",
                                     examples=["demo-1"])]


class Health(BaseModel):
    status: Literal["ok", "ready", "starting", "failed"]
    detail: str | None = None


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


STREAM_DESCRIPTION = ("Server-sent events, each with one line of JSON data: `typing` ({}) at once, then `token` "
                      "({\"text\": piece}) per piece of the reply as it is produced, then `reply` (the Reply; "
                      "with `handled` false it is an apology for a turn not handled: resend it with the same turn_id); "
                      "`error` (an ErrorDetail) if the reply failed after the stream began.")
SSE_SCHEMA = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"type": "string", "enum": ["typing", "token", "reply", "error"]},
    "data": {"type": "string", "contentMediaType": "application/json"}}}


def message_model(max_chars: int) -> type[BaseModel]:
    """The POST body, with this server's size limit in its schema."""

    class Message(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "set an alarm for 7 am"}]})

        text: str = Field(min_length=1, max_length=max_chars, description="What the user wrote.",
                          json_schema_extra={"pattern": VISIBLE})
        user_id: str = Field(default="user", min_length=1, max_length=200)
        turn_id: str | None = Field(default=None, min_length=1, max_length=200, description=(
            "Optional. Send a message again with the same turn_id (a client retry) and get the same "
            "reply instead of a second turn."))

        @field_validator("text")
        @classmethod
        def _not_blank(cls, text: str) -> str:
            if not re.search(VISIBLE, text):
                raise PydanticCustomError("blank", "'text' has no visible characters",
                                          {"fix": "write at least one letter, digit or sign"})
            return text

    return Message


def sse(event: str, data: object) -> bytes:
    """One server-sent event: `event: NAME` and one line of JSON data."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not valid JSON, or not sent as JSON "
          "(`Content-Type: application/json`)."},
    401: {"model": ErrorBody, "description": "API keys are configured and the request has no valid "
          "`Authorization: Bearer KEY` header."},
    413: {"model": ErrorBody, "description": "The body is larger than the server accepts."},
    422: {"model": ErrorBody, "description": "A field is missing, unknown, too long or of the wrong type."},
    429: {"model": ErrorBody, "description": "Too many messages in this conversation, or from this API key "
          "(or client); see Retry-After."},
    503: {"model": ErrorBody, "description": "The bot is still starting, too many turns already wait "
          "(`overloaded`), or this turn was not handled (its conversation was busy, or the store failed); "
          "see Retry-After, and resend with the same turn_id."},
}
# The stream's errors are JSON too, though its 200 is an event stream (a `model` would be documented
# with the route's media type); ErrorBody's schema is registered by the endpoints that use ERRORS.
STREAM_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": spec["description"],
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for status, spec in ERRORS.items()}


def create_app(manager: TurnHandler | TurnRunner, settings: ServerConfig | None = None, *,
               slack: SlackSecrets | None = None, socket_mode: bool = False,
               api_keys: ApiKeys | None = None) -> FastAPI:
    """The ASGI app over `manager` (or a TurnRunner still building one); Slack is mounted when
    `slack` holds its signing secret and bot token, and Socket Mode connects when asked.
    `api_keys` default: $BOT_API_KEYS and `settings.api_keys_file` (none: the API is open)."""
    settings = settings or ServerConfig()
    api_keys = api_keys if api_keys is not None else ApiKeys.load(settings.api_keys_file)
    runner = manager if isinstance(manager, TurnRunner) else TurnRunner(
        manager, threads=settings.threads, queue_size=settings.queue_size)
    app = FastAPI(title="bot", version="1", lifespan=_lifespan(runner, settings, slack, socket_mode),
                  docs_url=None, redoc_url=None,  # /docs is served from installed assets (_web_routes)
                  description="One frozen LLM, one small learned table per skill: send a message, get the reply.")
    app.state.runner = runner
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    _error_handlers(app, accepted_fields=list(message_model(1).model_fields), api_keys=api_keys)
    _api_routes(app, runner, settings, api_keys)
    _web_routes(app)
    if slack is not None and slack.wants_events_api():
        from bot.adapters.slack import mount_events_api

        mount_events_api(app, runner, settings.slack, slack)
    return app


def _lifespan(runner: TurnRunner, settings: ServerConfig, slack: SlackSecrets | None, socket_mode: bool):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner.start()  # the model loads while the server already answers /healthz
        socket = None
        if socket_mode and slack is not None:
            from bot.adapters.slack import SocketMode

            socket = SocketMode(runner, settings.slack, slack)
            socket.start()
        try:
            yield
        finally:
            if socket is not None:
                await socket.close()
            runner.close()

    return lifespan


def _api_routes(app: FastAPI, runner: TurnRunner, settings: ServerConfig, api_keys: ApiKeys) -> None:
    Message = message_model(settings.max_message_chars)
    limits = Limits(settings.rate_limit, settings.client_rate_limit)

    async def admit(request: Request, conversation_id: str, body: Any) -> Turn:
        """The turn to answer, after the key, readiness, queue and rate limit checks (JSON errors)."""
        client = client_of(request, api_keys)
        if not runner.ready:
            raise not_ready(runner)
        if runner.full:
            raise overloaded(runner)
        refusal = await count_hit(runner, limits, f"{CHANNEL}:{conversation_id}", client, bool(api_keys))
        if refusal is not None:
            raise rate_limited(refusal, conversation_id)
        turn_id = f"{CHANNEL}:{body.turn_id}" if body.turn_id else None
        return Turn(conversation_id=f"{CHANNEL}:{conversation_id}", text=body.text, user_id=body.user_id,
                    channel=CHANNEL, turn_id=turn_id)

    @app.post("/v1/conversations/{conversation_id}/messages", response_model=Reply, responses=ERRORS,
              summary="Send a message; get the reply")
    async def post_message(request: Request, conversation_id: ConversationId,
                           body: Message) -> Reply:  # type: ignore[valid-type]
        turn = await admit(request, conversation_id, body)
        reply = await unless_gone(request, runner.run(turn))
        if not reply.handled:  # a 200 would pass an apology off as the answer: the client would move on
            raise not_handled(reply)
        return reply.model_copy(update={"conversation_id": conversation_id})

    @app.post("/v1/conversations/{conversation_id}/messages/stream", response_class=EventStream,
              responses={**STREAM_ERRORS, 200: {"description": STREAM_DESCRIPTION,
                                                "content": {"text/event-stream": {"schema": SSE_SCHEMA}}}},
              summary="Send a message; stream the reply as server-sent events")
    async def stream_message(request: Request, conversation_id: ConversationId,
                             body: Message) -> EventStream:  # type: ignore[valid-type]
        turn = await admit(request, conversation_id, body)
        # Starlette cancels the stream when its client hangs up, which drops a turn not yet started.
        return EventStream(_events(runner, turn, conversation_id),
                           headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/healthz", response_model=Health, summary="Liveness: the process answers")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}},
             summary="Readiness: the model is loaded and turns can be answered")
    async def readyz() -> Any:
        if runner.ready:
            return Health(status="ready")
        health = Health(status="failed", detail=str(runner.error)) if runner.error else Health(status="starting")
        return JSONResponse(health.model_dump(), status_code=503)


async def _events(runner: TurnRunner, turn: Turn, conversation_id: str) -> AsyncIterator[bytes]:
    yield sse("typing", {})
    try:
        async for item in runner.stream(turn):
            if isinstance(item, Reply):
                yield sse("reply", item.model_copy(update={"conversation_id": conversation_id}).model_dump(mode="json"))
            else:
                yield sse("token", {"text": item})
    except Exception as err:  # the stream has begun: the error must travel as an event, not a status
        log.exception("conversation %r: streaming the reply failed", turn.conversation_id)
        yield sse("error", ErrorDetail(code="stream_failed", message=str(err) or type(err).__name__,
                                       fix="send the message again").model_dump())


def _web_routes(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    # Swagger UI from the installed swagger-ui-bundle-v2 package, not a CDN: /docs works offline.
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="bot API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={**PAGE_HEADERS, "Cache-Control": "no-cache"})


def _error_handlers(app: FastAPI, *, accepted_fields: list[str], api_keys: ApiKeys) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        # who asks before what is asked: the body is checked before the route runs, so an API
        # request without a valid key hears 401 here, not what was wrong with its body
        if request.url.path.startswith("/v1/"):
            try:
                client_of(request, api_keys)
            except ApiError as refused:
                return error_response(refused.status, refused.detail, refused.headers)
        status, detail = from_validation(err.errors(), accepted_fields=accepted_fields,
                                         content_type=request.headers.get("content-type"))
        return error_response(status, detail)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.detail, err.headers)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, err: QueueFull) -> JSONResponse:
        failed = overloaded(app.state.runner)
        return error_response(failed.status, failed.detail, failed.headers)

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, err: NotReady) -> JSONResponse:
        failed = not_ready(app.state.runner)
        return error_response(failed.status, failed.detail, failed.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code, fix = HTTP_ERRORS.get(err.status_code, ("http_error", "see /openapi.json"))
        field = "body" if err.status_code == 413 else None
        detail = ErrorDetail(code=code, field=field, fix=fix,
                             message=f"{request.method} {request.url.path}: {err.detail}")
        return error_response(err.status_code, detail, getattr(err, "headers", None))


HTTP_ERRORS = {404: ("not_found", "see /docs or /openapi.json for the endpoints and their methods"),
               405: ("method_not_allowed", "see /docs or /openapi.json for the endpoints and their methods"),
               413: ("body_too_large", "send a smaller body (a message's text has its own limit, see /openapi.json)")}
