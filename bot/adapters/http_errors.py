"""The HTTP API's errors: one JSON shape, `{"error": {code, message, field, fix}}`, for every 4xx/5xx.

A client (or a person reading curl's output) learns which field was wrong and what to do about it,
instead of FastAPI's raw validation list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

__all__ = ["ApiError", "ErrorBody", "ErrorDetail", "error_response", "from_validation"]

EXAMPLE_BODY = '{"text": "hello"}'


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str  # stable, machine-readable: malformed_json, not_json, unknown_field, too_long, rate_limited, ...
    message: str
    field: str | None = None  # the request field at fault, e.g. "text", "conversation_id", "body"
    fix: str


class ErrorBody(BaseModel):
    """Every error response of the API."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


class ApiError(Exception):
    """Raised by an endpoint to answer with an ErrorBody."""

    def __init__(self, status: int, code: str, message: str, *, fix: str, field: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, dict(headers or {})
        self.detail = ErrorDetail(code=code, message=message, field=field, fix=fix)


def error_response(status: int, detail: ErrorDetail, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=detail).model_dump(mode="json"), status_code=status,
                        headers=dict(headers or {}))


def from_validation(errors: Sequence[Mapping[str, Any]], *, accepted_fields: Sequence[str],
                    content_type: str | None = None) -> tuple[int, ErrorDetail]:
    """The status and ErrorDetail for FastAPI's first validation error (malformed JSON, or a body not
    sent as JSON: 400, else 422). `content_type` is the request's, named in the not-JSON message."""
    if any(_raw_body(error) for error in errors):  # before any field's error: no field was read
        return 400, _not_json_body(content_type)
    first = errors[0]
    kind, loc, ctx = str(first.get("type", "")), tuple(first.get("loc", ())), first.get("ctx") or {}
    field = _field(loc)
    if kind == "json_invalid":
        return 400, ErrorDetail(code="malformed_json", field="body",
                                message=f"the body is not valid JSON: {ctx.get('error', first.get('msg'))}",
                                fix=f"send a JSON object such as {EXAMPLE_BODY} with Content-Type: application/json")
    return 422, _invalid(kind, field, loc, first, ctx, accepted_fields)


def _not_json_body(content_type: str | None) -> ErrorDetail:
    """A body FastAPI did not read as JSON (a form from `curl -d 'text=hi'`, text/plain, no type): the
    client's mistake is the encoding, which 422 `wrong_type` on "the body" would not tell it."""
    media_type = (content_type or "").split(";")[0].strip()[:100]
    sent = f"as {media_type}" if media_type else "without a Content-Type"
    return ErrorDetail(code="not_json", field="body",
                       message=f"the body must be JSON, sent with Content-Type: application/json (this one "
                               f"came {sent}), such as {EXAMPLE_BODY}",
                       fix=f"send a JSON object such as {EXAMPLE_BODY} with Content-Type: application/json; "
                           f"with curl: -H 'Content-Type: application/json' -d '{EXAMPLE_BODY}'")


def _raw_body(error: Mapping[str, Any]) -> bool:
    """FastAPI hands the body on as raw bytes exactly when its Content-Type is not JSON."""
    return tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), (bytes, bytearray))


def _invalid(kind: str, field: str, loc: tuple, error: Mapping[str, Any], ctx: Mapping[str, Any],
             accepted: Sequence[str]) -> ErrorDetail:
    where = f"'{field}'" if field != "body" else "the body"
    allowed = ", ".join(accepted)
    if kind == "extra_forbidden":
        return ErrorDetail(code="unknown_field", field=field, message=f"unknown field '{field}'",
                           fix=f"remove it; the accepted fields are: {allowed}")
    if kind == "missing":
        fix = f"send a JSON object such as {EXAMPLE_BODY}" if field == "body" else f"add the field '{field}'"
        return ErrorDetail(code="missing_field", field=field, message=f"{where} is missing", fix=fix)
    if kind == "string_too_long":
        size = len(error.get("input") or "")
        return ErrorDetail(code="too_long", field=field,
                           message=f"{where} has {size} characters; at most {ctx.get('max_length')} are accepted",
                           fix="shorten it, or send it as several messages")
    if kind == "string_too_short":
        return ErrorDetail(code="too_short", field=field, message=f"{where} is empty",
                           fix=f"send at least {ctx.get('min_length', 1)} character(s)")
    if kind == "string_pattern_mismatch":
        return ErrorDetail(code="invalid_format", field=field, message=f"{where} has characters it may not have",
                           fix=f"use only what the pattern {ctx.get('pattern')} allows")
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return ErrorDetail(code="wrong_type", field=field, message=f"{where} must be a JSON object",
                           fix=f"send a JSON object such as {EXAMPLE_BODY} with Content-Type: application/json "
                               f"(accepted fields: {allowed})")
    if kind.endswith("_type"):
        return ErrorDetail(code="wrong_type", field=field, message=f"{where}: {error.get('msg')}",
                           fix="send a JSON string")
    if "fix" in ctx:  # a validator's own PydanticCustomError says what to do
        return ErrorDetail(code=kind, field=field, message=str(error.get("msg")), fix=str(ctx["fix"]))
    return ErrorDetail(code="invalid_value", field=field, message=f"{where}: {error.get('msg')}",
                       fix="correct the value (the schema is at /openapi.json)")


def _field(loc: tuple) -> str:
    """('body', 'text') -> 'text'; ('path', 'conversation_id') -> 'conversation_id'; ('body',) -> 'body'."""
    names = [str(part) for part in loc[1:] if not isinstance(part, int)]
    return ".".join(names) or (str(loc[0]) if loc else "body")

