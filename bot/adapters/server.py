"""`bot serve`: uvicorn running the HTTP API, the web chat and Slack, while the model loads.

The server answers /healthz at once and /readyz (and turns) once the manager is built; if building
it fails, the server stops and the error is raised to the command line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn

from bot.adapters.auth import ApiKeys, is_loopback
from bot.adapters.http import create_app
from bot.adapters.runner import TurnHandler, TurnRunner
from bot.config.server import ServerConfig, SlackSecrets
from bot.errors import ConfigError

__all__ = ["build_server", "check_exposure", "serve"]

log = logging.getLogger("bot.adapters.server")
GRACEFUL_SHUTDOWN_SECONDS = 5


def serve(build: Callable[[], TurnHandler], settings: ServerConfig, *, socket_mode: bool = False,
          secrets: SlackSecrets | None = None) -> None:
    """Serve until Ctrl-C. Slack is on when its environment variables are; see the README."""
    server, runner = build_server(build, settings, socket_mode=socket_mode, secrets=secrets)
    server.run()
    if runner.error is not None:
        raise runner.error


def build_server(build: Callable[[], TurnHandler], settings: ServerConfig, *, socket_mode: bool = False,
                 secrets: SlackSecrets | None = None) -> tuple[uvicorn.Server, TurnRunner]:
    """The uvicorn server, with the manager already building; a failed build stops the server."""
    secrets = secrets if secrets is not None else SlackSecrets.from_env()
    if socket_mode:
        secrets.check_socket_mode()  # a missing token is reported before the model loads
    slack_http = secrets.wants_events_api()
    api_keys = ApiKeys.load(settings.api_keys_file)
    check_exposure(settings, api_keys)
    runner = TurnRunner(build=build, threads=settings.threads, queue_size=settings.queue_size)
    app = create_app(runner, settings, slack=secrets, socket_mode=socket_mode, api_keys=api_keys)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                                           timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS))
    _log_plan(settings, slack_http=slack_http, socket_mode=socket_mode)
    log.info("API keys: %s", f"{len(api_keys)} configured" if api_keys else "none (the API is open)")
    runner.start(on_failure=lambda err: setattr(server, "should_exit", True))
    return server, runner


def check_exposure(settings: ServerConfig, api_keys: ApiKeys) -> None:
    """Refuse to serve an open API beyond this machine unless the operator said so."""
    if api_keys or is_loopback(settings.host) or settings.allow_unauthenticated:
        return
    raise ConfigError("bot serve", f"refusing to listen on {settings.host} with no API keys: anyone who "
                      "reaches the port could talk to any conversation", field="server.host",
                      fix="set BOT_API_KEYS (comma-separated) or server.api_keys_file, or pass "
                      "--allow-unauthenticated if something in front of the bot checks who calls")


def _log_plan(settings: ServerConfig, *, slack_http: bool, socket_mode: bool) -> None:
    base = f"http://{settings.host}:{settings.port}"
    log.info("web chat at %s/ ; API schema at %s/openapi.json ; the model is loading (GET /readyz)", base, base)
    if slack_http:
        log.info("Slack Events API at %s%s", base, settings.slack.events_path)
    if socket_mode:
        log.info("Slack Socket Mode connects once the model is loaded")
    if not (slack_http or socket_mode):
        log.info("Slack is off (set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN to turn it on)")
