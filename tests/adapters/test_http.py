"""The HTTP API: JSON in -> a real DialogueManager (scripted model, memory store) -> JSON or
server-sent events out; limits and mistakes answered with a 4xx that names the field and the fix."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from adapter_fixtures import Gate, make_manager, running, wait_until
from fastapi.testclient import TestClient

from bot.adapters.http import create_app
from bot.adapters.runner import TurnRunner
from bot.config.server import ServerConfig
from bot.errors import ConfigError
from bot.store import MemoryStore, StoreSettings

URL = "/v1/conversations/{}/messages"


@pytest.fixture
def client() -> TestClient:
    settings = ServerConfig(max_message_chars=40, max_body_bytes=2048, rate_limit={"turns": 5, "seconds": 60})
    with TestClient(create_app(make_manager(), settings)) as test_client:
        yield test_client


def parse_events(text: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a server-sent event stream."""
    events = []
    for block in filter(None, text.split("\n\n")):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_a_conversation_fills_a_slot_over_two_posts(client: TestClient) -> None:
    first = client.post(URL.format("c1"), json={"text": "set an alarm"})
    second = client.post(URL.format("c1"), json={"text": "7 am"})
    other = client.post(URL.format("c2"), json={"text": "7 am"})  # another conversation: no pending slot

    assert first.status_code == 200
    assert first.json()["text"] == "For what time?"
    assert second.json() | {"seconds": 0} == {"conversation_id": "c1", "text": "Alarm set for 7 am.",
                                              "skill": "alarms", "seconds": 0, "handled": True,
                                              "frame": {"intent": "set_alarm", "slots": {"time": "7 am"},
                                                        "confidence": 0.6, "reasoning": None}}
    assert other.json()["text"] == "Alarm set for 7 am."  # the unsure rule alone: a fresh request


def test_the_stream_sends_typing_then_pieces_that_join_to_the_reply(client: TestClient) -> None:
    response = client.post(URL.format("s1") + "/stream", json={"text": "tell a joke"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text)
    names = [name for name, _ in events]
    assert names == ["typing", "token", "token", "token", "token", "reply"]  # the generated words as written
    pieces = "".join(data["text"] for name, data in events if name == "token")
    assert pieces == events[-1][1]["text"] == "(chat) tell a joke"


def test_the_stream_sends_a_template_reply_as_one_token(client: TestClient) -> None:
    events = parse_events(client.post(URL.format("s2") + "/stream", json={"text": "alarm for 8 pm"}).text)
    assert events[1:] == [("token", {"text": "Alarm set for 8 pm."}), ("reply", events[-1][1])]
    assert events[-1][1]["text"] == "Alarm set for 8 pm."


def test_a_repeated_turn_id_gets_the_same_reply_and_no_second_turn(client: TestClient) -> None:
    first = client.post(URL.format("d1"), json={"text": "set an alarm", "turn_id": "t-1"})
    again = client.post(URL.format("d1"), json={"text": "set an alarm", "turn_id": "t-1"})
    answer = client.post(URL.format("d1"), json={"text": "9 pm"})

    assert first.json()["text"] == again.json()["text"] == "For what time?"
    assert answer.json()["text"] == "Alarm set for 9 pm."  # still waiting for the slot: one turn, not two



def test_a_turn_not_handled_is_a_503_to_retry_and_its_retry_is_applied_once() -> None:
    store = MemoryStore(StoreSettings(lock_wait_seconds=0.05))
    body = {"text": "set an alarm", "turn_id": "t-9"}
    with TestClient(create_app(make_manager(store), ServerConfig())) as client:
        with store.lock("api:held"):  # another worker's turn of it, or a dead worker's lock (the API's ids are api:...)
            refused = client.post(URL.format("held"), json=body)
            streamed = parse_events(client.post(URL.format("held") + "/stream", json=body).text)
        retried = client.post(URL.format("held"), json=body)
        again = client.post(URL.format("held"), json=body)

    error = refused.json()["error"]
    assert (refused.status_code, refused.headers["Retry-After"], error["code"]) == (503, "1", "turn_not_handled")
    assert "same turn_id" in error["fix"]
    assert streamed[-1][0] == "reply" and streamed[-1][1]["handled"] is False  # the page shows the apology
    assert retried.status_code == again.status_code == 200 and retried.json()["handled"] is True
    assert retried.json()["text"] == again.json()["text"] == "For what time?"
    assert store.load("api:held").turns == 1

@pytest.mark.parametrize(("body", "status", "code", "field", "fix"), [
    ('{"text": ', 400, "malformed_json", "body", "Content-Type: application/json"),
    ('{"text": "hi", "colour": "red"}', 422, "unknown_field", "colour", "accepted fields are: text, user_id, turn_id"),
    ("{}", 422, "missing_field", "text", "add the field 'text'"),
    ('["hi"]', 422, "wrong_type", "body", "send a JSON object"),
    ('{"text": 5}', 422, "wrong_type", "text", "send a JSON string"),
    ('{"text": "   "}', 422, "blank", "text", "write at least one"),
    (json.dumps({"text": "x" * 41}), 422, "too_long", "text", "shorten it"),
    (json.dumps({"text": "x" * 3000}), 413, "body_too_large", "body", "send a smaller body"),
])
def test_mistakes_get_a_4xx_naming_the_field_and_the_fix(client: TestClient, body: str, status: int, code: str,
                                                         field: str, fix: str) -> None:
    response = client.post(URL.format("e1"), content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert fix in error["fix"]


@pytest.mark.parametrize(("route", "request_args", "sent"), [
    ("", {"data": {"text": "hi"}}, "as application/x-www-form-urlencoded"),  # curl -d 'text=hi'
    ("/stream", {"data": {"text": "hi"}}, "as application/x-www-form-urlencoded"),
    ("", {"content": '{"text": "hi"}', "headers": {"Content-Type": "text/plain"}}, "as text/plain"),
    ("", {"content": '{"text": "hi"}'}, "without a Content-Type"),
])
def test_a_body_not_sent_as_json_gets_400_saying_so_with_an_example(client: TestClient, route: str,
                                                                    request_args: dict, sent: str) -> None:
    response = client.post(URL.format("f1") + route, **request_args)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("not_json", "body")
    assert error["message"] == ("the body must be JSON, sent with Content-Type: application/json "
                                f'(this one came {sent}), such as {{"text": "hello"}}')
    assert "-H 'Content-Type: application/json'" in error["fix"]


def test_a_chunked_body_over_the_limit_is_refused(client: TestClient) -> None:
    chunks = iter([b'{"text": "', b"x" * 1500, b"x" * 1500, b'"}'])  # no Content-Length: chunked

    response = client.post(URL.format("e2"), content=chunks, headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_a_bad_conversation_id_and_unknown_routes_are_json_errors(client: TestClient) -> None:
    bad_id = client.post(URL.format("no spaces!"), json={"text": "hi"})
    missing = client.get("/v2/nothing")
    wrong_method = client.get(URL.format("c1"))

    assert bad_id.status_code == 422
    assert bad_id.json()["error"]["field"] == "conversation_id"
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (405, "method_not_allowed")


def test_the_rate_limit_is_per_conversation_with_retry_after(client: TestClient) -> None:
    statuses = [client.post(URL.format("busy"), json={"text": "tell a joke"}).status_code for _ in range(6)]
    refused = client.post(URL.format("busy"), json={"text": "tell a joke"})
    elsewhere = client.post(URL.format("calm"), json={"text": "tell a joke"})

    assert statuses == [200] * 5 + [429]
    assert refused.json()["error"]["field"] == "conversation_id"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert elsewhere.status_code == 200


def test_openapi_documents_the_endpoints_and_their_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    post = schema["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    stream = schema["paths"]["/v1/conversations/{conversation_id}/messages/stream"]["post"]
    assert {"200", "400", "413", "422", "429", "503"} <= set(post["responses"])
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    message = schema["components"]["schemas"]["Message"]
    assert message["properties"]["text"]["maxLength"] == 40
    assert message["additionalProperties"] is False
    assert {"/healthz", "/readyz"} <= set(schema["paths"])


def test_the_page_and_its_files_are_served_with_a_content_policy(client: TestClient) -> None:
    page = client.get("/")
    script = client.get("/static/chat.js")

    assert page.status_code == 200 and "<textarea" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200 and "text/event-stream" in script.text


def test_readiness_waits_for_the_manager_and_turns_get_503_until_then() -> None:
    built = threading.Event()

    def build():
        built.wait(10)
        return make_manager()

    with TestClient(create_app(TurnRunner(build=build), ServerConfig())) as client:
        health, starting = client.get("/healthz"), client.get("/readyz")
        early = client.post(URL.format("r1"), json={"text": "tell a joke"})
        built.set()
        wait_until(lambda: client.get("/readyz").status_code == 200)
        later = client.post(URL.format("r1"), json={"text": "tell a joke"})

    assert health.json()["status"] == "ok"
    assert (starting.status_code, starting.json()["status"]) == (503, "starting")
    assert (early.status_code, early.json()["error"]["code"]) == (503, "not_ready")
    assert early.headers["Retry-After"] == "5"
    assert later.json()["text"] == "(chat) tell a joke"


def test_a_failed_start_is_reported_by_readiness_and_turns() -> None:
    def build():
        raise ConfigError("configs/default.yaml", "no such skills folder", field="skills_dir", fix="create it")

    with TestClient(create_app(TurnRunner(build=build), ServerConfig())) as client:
        wait_until(lambda: client.get("/readyz").json()["status"] == "failed")
        ready = client.get("/readyz")
        turn = client.post(URL.format("r2"), json={"text": "hi"})

    assert ready.status_code == 503 and "no such skills folder" in ready.json()["detail"]
    assert (turn.status_code, turn.json()["error"]["code"]) == (503, "start_failed")


def test_a_slow_turn_leaves_the_event_loop_free() -> None:
    gate = Gate(make_manager())
    with running(create_app(gate, ServerConfig())) as base, httpx.Client(base_url=base, timeout=10) as http:
        slow: dict = {}
        def post() -> None:
            slow["r"] = http.post(URL.format("g1"), json={"text": "tell a joke"})

        worker = threading.Thread(target=post)
        worker.start()
        assert gate.entered.wait(5)
        started = time.perf_counter()
        health = http.get("/healthz")
        waited = time.perf_counter() - started
        gate.opened.set()
        worker.join(10)

    assert health.status_code == 200 and waited < 0.5
    assert slow["r"].json()["text"] == "(chat) tell a joke"
