"""API keys: every /v1 request needs `Authorization: Bearer KEY` once keys are set; health, readiness
and Slack (signed by Slack) stay open; keys never reach a log; an open API stays on loopback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from adapter_fixtures import make_manager
from fake_slack import BOT_TOKEN, SIGNING_SECRET, signed_headers
from fastapi.testclient import TestClient

from bot.adapters.auth import ApiKeys, is_loopback
from bot.adapters.http import create_app
from bot.adapters.server import build_server
from bot.config.server import ServerConfig, SlackSecrets
from bot.errors import ConfigError

URL = "/v1/conversations/a1/messages"
SECRET = "k1-s3cr3t-value"


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("BOT_API_KEYS", f"{SECRET}, other-key")
    secrets = SlackSecrets(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    with TestClient(create_app(make_manager(), ServerConfig(), slack=secrets)) as client:
        yield client


def test_no_header_or_a_wrong_key_is_401_and_the_right_key_is_answered(keyed: TestClient) -> None:
    missing = keyed.post(URL, json={"text": "tell a joke"})
    wrong = keyed.post(URL, json={"text": "tell a joke"}, headers={"Authorization": "Bearer k2"})
    not_bearer = keyed.post(URL, json={"text": "tell a joke"}, headers={"Authorization": f"Basic {SECRET}"})
    right = keyed.post(URL, json={"text": "tell a joke"}, headers={"Authorization": f"Bearer {SECRET}"})
    stream = keyed.post(URL + "/stream", json={"text": "tell a joke"})

    assert [r.status_code for r in (missing, wrong, not_bearer, stream)] == [401] * 4
    error = missing.json()["error"]
    assert (error["code"], error["field"]) == ("unauthorized", "authorization")
    assert "Bearer" in error["message"] and "BOT_API_KEYS" in error["fix"]
    assert "not valid" in wrong.json()["error"]["message"] and SECRET not in wrong.text
    bare = keyed.post(URL, json={"text": "tell a joke"}, headers={"Authorization": SECRET})
    assert bare.status_code == 401 and "the word 'Bearer' and a space" in bare.json()["error"]["message"]
    assert SECRET not in bare.text
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert (right.status_code, right.json()["text"]) == (200, "(chat) tell a joke")


@pytest.mark.parametrize("body", [{"content": b"tell a joke", "headers": {"Content-Type": "text/plain"}},
                                  {"content": b'{"text": ', "headers": {"Content-Type": "application/json"}},
                                  {"json": {"txt": "tell a joke"}}], ids=["not-json", "malformed-json", "wrong-field"])
def test_a_request_without_a_key_is_401_whatever_its_body(keyed: TestClient, body: dict) -> None:
    """Who asks is checked before what is asked: a caller without a key learns nothing of the API."""
    response = keyed.post(URL, **body)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_health_readiness_the_page_and_slack_stay_open(keyed: TestClient) -> None:
    body = '{"token": "legacy", "challenge": "abc123", "type": "url_verification"}'
    slack = keyed.post("/slack/events", content=body, headers=signed_headers(body))

    assert keyed.get("/healthz").status_code == keyed.get("/readyz").status_code == 200
    assert keyed.get("/").status_code == 200
    assert slack.status_code == 200 and "abc123" in slack.text


def test_keys_are_never_logged(keyed: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keyed.post(URL, json={"text": "tell a joke"}, headers={"Authorization": f"Bearer {SECRET}"})
    keyed.post(URL, json={"text": "tell a joke"}, headers={"Authorization": f"Bearer {SECRET}x"})

    assert SECRET not in caplog.text
    assert SECRET not in repr(ApiKeys.load(environ={"BOT_API_KEYS": SECRET}))


def test_keys_come_from_the_environment_and_a_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("# one key a line\nfile-key\n\n", encoding="utf-8")

    keys = ApiKeys.load(path, environ={"BOT_API_KEYS": "env-key,"})

    assert len(keys) == 2
    assert keys.check("Bearer file-key") and keys.check("bearer env-key")
    assert keys.check("Bearer other") is None and keys.check(None) is None and keys.check("Bearer ") is None
    assert keys.check("Bearer file-key") != keys.check("Bearer env-key")  # ids tell keys apart
    assert not ApiKeys.load(environ={})


@pytest.mark.parametrize(("content", "problem"), [(None, "does not exist"), ("# only a comment\n", "holds no key"),
                                                  ("two words\n", "space or a comma"),
                                                  (b"\xff\xfe", "cannot be read")])
def test_a_bad_key_file_is_a_clear_error(tmp_path: Path, content: str | bytes | None, problem: str) -> None:
    path = tmp_path / "keys.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=problem) as caught:
        ApiKeys.load(path, environ={})
    assert str(path) in str(caught.value) and "server.api_keys_file" in str(caught.value)


def test_an_open_api_is_refused_beyond_loopback_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_API_KEYS", raising=False)
    with pytest.raises(ConfigError, match="--allow-unauthenticated") as caught:
        build_server(make_manager, ServerConfig(host="0.0.0.0"), secrets=SlackSecrets())
    assert "refusing to listen on 0.0.0.0" in str(caught.value)

    build_server(make_manager, ServerConfig(host="0.0.0.0", allow_unauthenticated=True), secrets=SlackSecrets())
    build_server(make_manager, ServerConfig(host="127.0.0.1"), secrets=SlackSecrets())
    monkeypatch.setenv("BOT_API_KEYS", "k1")
    build_server(make_manager, ServerConfig(host="0.0.0.0"), secrets=SlackSecrets())


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False), ("::", False),
                                                ("10.0.0.5", False), ("example.org", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
