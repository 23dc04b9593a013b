"""The HTTP API fuzzed from its own OpenAPI schema (schemathesis, in-process ASGI calls): whatever
the body, path or headers, no 5xx, and every response matches the schema it documents."""

from __future__ import annotations

import schemathesis
from adapter_fixtures import make_manager
from hypothesis import HealthCheck, settings

from bot.adapters.http import create_app
from bot.config.server import ServerConfig

APP = create_app(make_manager(), ServerConfig(max_message_chars=200, rate_limit={"turns": 1000, "seconds": 1}))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()
