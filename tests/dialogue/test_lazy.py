"""`bot.dialogue.lazy.cached_property`: computed once per instance, and never one instance's
computation blocking another's (functools' version on Python 3.11 holds one lock per class)."""

from __future__ import annotations

import threading

from bot.config import SkillConfig
from bot.config.dialogue import DialogueSettings
from bot.dialogue import Rule, ScriptedUnderstanding
from bot.dialogue.lazy import cached_property
from bot.dialogue.policy import Situation
from bot.types import ConversationState, Route


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    @cached_property
    def value(self) -> int:
        """The number of calls so far."""
        self.calls += 1
        return self.calls


def test_the_value_is_computed_once_per_instance_and_kept():
    first, second = Counted(), Counted()
    assert (first.value, first.value, second.value) == (1, 1, 1)
    assert (first.calls, second.calls) == (1, 1)
    assert Counted.value.__doc__ == "The number of calls so far."


class MeetingRouter(ScriptedUnderstanding):
    """Each route waits until `parties` routes are in progress at once (a batch gathering them)."""

    def __init__(self, parties: int) -> None:
        super().__init__([Rule("alarm", "alarm", "set_alarm")])
        self.meeting = threading.Barrier(parties, timeout=5)

    def route(self, text, history):
        self.meeting.wait()  # BrokenBarrierError if the routes are made one at a time
        return super().route(text, history)


def test_concurrent_turns_route_at_the_same_time():
    skills = {"alarm": SkillConfig.model_validate({"name": "alarm", "intents": [
        {"name": "set_alarm", "response": "Alarm set."}]})}
    understanding = MeetingRouter(4)
    routes: dict[int, Route] = {}

    def turn(n: int) -> None:
        situation = Situation(text="alarm", state=ConversationState(conversation_id=f"c{n}"), history=(),
                              skills=skills, understanding=understanding, settings=DialogueSettings(),
                              cancel_words=())
        routes[n] = situation.route

    threads = [threading.Thread(target=turn, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert routes == {n: Route("alarm", 1.0) for n in range(4)}
