"""`bot serve`: uvicorn over the app while the manager builds; a failed build stops the server and
reaches the command line; Slack settings are checked before the model loads."""

from __future__ import annotations

import threading

import httpx
import pytest
from adapter_fixtures import free_port, make_manager, wait_until
from typer.testing import CliRunner

from bot.adapters.server import build_server, serve
from bot.cli import app
from bot.config.server import ServerConfig, SlackSecrets
from bot.errors import ConfigError


def test_the_server_answers_health_at_once_and_turns_once_built() -> None:
    release = threading.Event()

    def build():
        release.wait(10)
        return make_manager()

    port = free_port()
    server, runner = build_server(build, ServerConfig(port=port), secrets=SlackSecrets())
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            starting = http.get("/readyz").status_code
            release.set()
            wait_until(lambda: runner.ready)
            reply = http.post("/v1/conversations/s1/messages", json={"text": "set an alarm for 7 am"})
    finally:
        server.should_exit = True
        thread.join(10)

    assert starting == 503
    assert reply.json()["text"] == "Alarm set for 7 am."


def test_a_failed_build_stops_the_server_and_is_raised() -> None:
    def build():
        raise ConfigError("configs/default.yaml", "no skills found", field="skills_dir", fix="run bot new")

    with pytest.raises(ConfigError, match="no skills found"):
        serve(build, ServerConfig(port=free_port()), secrets=SlackSecrets())


def test_slack_settings_are_checked_before_the_model_loads() -> None:
    built: list[str] = []

    def build():
        built.append("model")
        return make_manager()

    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        build_server(build, ServerConfig(), secrets=SlackSecrets(bot_token="xoxb-1"))
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        build_server(build, ServerConfig(), socket_mode=True, secrets=SlackSecrets(bot_token="xoxb-1"))
    assert built == []


def test_bot_serve_passes_host_port_and_socket_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    monkeypatch.setattr("bot.adapters.server.serve", lambda build, settings, *, socket_mode, secrets:
                        calls.append((settings, socket_mode, secrets)))
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")  # Slack's tokens reach the server through BotSettings

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123", "--slack-socket-mode"])

    assert result.exit_code == 0, result.output
    settings, socket_mode, secrets = calls[0]
    assert (settings.host, settings.port, socket_mode) == ("0.0.0.0", 8123, True)
    assert secrets.app_token.get_secret_value() == "xapp-1"
    assert settings.max_message_chars == ServerConfig().max_message_chars


def test_bot_serve_passes_allow_unauthenticated(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    monkeypatch.setattr("bot.adapters.server.serve",
                        lambda build, settings, **options: calls.append(settings))

    plain = CliRunner().invoke(app, ["serve"])
    allowed = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--allow-unauthenticated"])

    assert plain.exit_code == allowed.exit_code == 0, plain.output + allowed.output
    assert [settings.allow_unauthenticated for settings in calls] == [False, True]


def test_server_settings_come_from_the_config_file(tmp_path) -> None:
    from bot.config.settings import load_settings

    config = tmp_path / "bot.yaml"
    config.write_text("server:\n  port: 9000\n  rate_limit: {turns: 5, seconds: 10}\n  slack: {api_url: 'http://127.0.0.1:1/api/'}\n")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("server:\n  prot: 9000\n")

    settings = load_settings(config).server
    assert (settings.port, settings.rate_limit.turns, settings.slack.api_url) == (9000, 5, "http://127.0.0.1:1/api/")
    with pytest.raises(ConfigError, match="server.prot"):
        load_settings(wrong)
