"""`bot serve`: uvicorn running the HTTP API, the web chat and Slack, while the model loads.

The server answers /healthz at once and /readyz (and turns) once the manager is built; if building
it fails, the server stops and the error is raised to the command line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn

from bot.adapters.http import create_app
from bot.adapters.runner import TurnHandler, TurnRunner
from bot.config.server import ServerConfig, SlackSecrets

__all__ = ["build_server", "serve"]

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
    runner = TurnRunner(build=build, threads=settings.threads)
    app = create_app(runner, settings, slack=secrets, socket_mode=socket_mode)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                                           timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS))
    _log_plan(settings, slack_http=slack_http, socket_mode=socket_mode)
    runner.start(on_failure=lambda err: setattr(server, "should_exit", True))
    return server, runner


def _log_plan(settings: ServerConfig, *, slack_http: bool, socket_mode: bool) -> None:
    base = f"http://{settings.host}:{settings.port}"
    log.info("web chat at %s/ ; API schema at %s/openapi.json ; the model is loading (GET /readyz)", base, base)
    if slack_http:
        log.info("Slack Events API at %s%s", base, settings.slack.events_path)
    if socket_mode:
        log.info("Slack Socket Mode connects once the model is loaded")
    if not (slack_http or socket_mode):
        log.info("Slack is off (set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN to turn it on)")
