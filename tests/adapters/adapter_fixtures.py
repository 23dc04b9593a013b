"""Helpers of the adapter tests: a real DialogueManager over a scripted model, and servers on free
loopback ports (uvicorn in a thread). Imported by name; fixtures live in conftest.py."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from bot.config import SkillConfig
from bot.dialogue import DialogueManager, Rule, ScriptedUnderstanding
from bot.store import ConversationStore, MemoryStore
from bot.types import Reply, Turn

TIME = r"(?P<time>\d+ ?[ap]m)"
RULES = [
    Rule(rf"alarm( for {TIME})?", "alarms", "set_alarm"),
    Rule(TIME, "alarms", "set_alarm", confidence=0.6),  # an answer on its own
    Rule(r"joke", "chat", "chat"),
]
SKILLS = {raw["name"]: SkillConfig.model_validate(raw) for raw in [
    {"name": "alarms", "slots": [{"name": "time"}], "intents": [
        {"name": "set_alarm", "required_slots": ["time"], "response": "Alarm set for {time}.",
         "questions": {"time": "For what time?"}}]},
    {"name": "chat", "intents": [{"name": "chat", "generate": True}]},
]}
START_SECONDS = 10.0


def make_manager(store: ConversationStore | None = None) -> DialogueManager:
    """The real dialogue manager; only the model is scripted."""
    return DialogueManager(SKILLS, ScriptedUnderstanding(RULES), store or MemoryStore())


class Gate:
    """A manager whose turns wait until the test opens the gate (a slow model, under control)."""

    def __init__(self, manager: DialogueManager) -> None:
        self.manager, self.store = manager, manager.store
        self.entered, self.opened = threading.Event(), threading.Event()
        self.turns: list[Turn] = []

    def handle(self, turn: Turn, on_piece: Callable[[str], None] | None = None) -> Reply:
        self.turns.append(turn)
        self.entered.set()
        if not self.opened.wait(10):
            raise TimeoutError("the test never opened the gate")
        return self.manager.handle(turn, on_piece)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(app: object, port: int | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn on a loopback port in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_SECONDS)


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {seconds} s")
        time.sleep(0.02)
