"""The reads one turn needs whatever the route says go to the model together (one batch), and
asking them together changes no reply and no state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import pytest
from dialogue_fixtures import RULES, skill_set

from bot.config.dialogue import DialogueSettings
from bot.dialogue import DialogueManager, ScriptedUnderstanding
from bot.dialogue.understanding import Call, Submitting
from bot.store import MemoryStore
from bot.types import ConversationState, Frame, HistoryEntry, Route, Turn

SKILLS = skill_set(__name__)
T = TypeVar("T")


def explode(frame: Frame, state: ConversationState) -> str:
    raise RuntimeError("the alarm clock is on fire")


def count_turns(frame: Frame, state: ConversationState) -> str:
    return f"This is turn {state.turns + 1}."


class _Queued(Generic[T]):
    def __init__(self, owner: BatchingUnderstanding, ask: Callable[[], T], label: tuple) -> None:
        self.owner, self.ask, self.label, self.done, self.value = owner, ask, label, False, None

    def result(self) -> T:
        if not self.done:
            self.owner.flush()
        return self.value  # type: ignore[return-value]


class BatchingUnderstanding(ScriptedUnderstanding):
    """A scripted understanding whose submitted reads wait in a queue, and are all answered as one
    batch when any of them is waited for (what the ReadBatcher does); `batches` records them."""

    def __init__(self) -> None:
        super().__init__(RULES)
        self.queue: list[_Queued] = []
        self.batches: list[list[tuple]] = []

    def submit_route(self, text: str, history: Sequence[HistoryEntry]) -> _Queued[Route]:
        return self._queue(lambda: ScriptedUnderstanding.route(self, text, history), ("route", None))

    def submit_read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> _Queued[Frame]:
        return self._queue(lambda: ScriptedUnderstanding.read(self, skill, text, history), ("read", skill))

    def route(self, text: str, history: Sequence[HistoryEntry]) -> Route:
        return self.submit_route(text, history).result()

    def read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> Frame:
        return self.submit_read(skill, text, history).result()

    def flush(self) -> None:
        batch, self.queue = self.queue, []
        self.batches.append([queued.label for queued in batch])
        for queued in batch:
            queued.value, queued.done = queued.ask(), True

    def _queue(self, ask: Callable[[], T], label: tuple) -> _Queued[T]:
        queued = _Queued(self, ask, label)
        self.queue.append(queued)
        return queued


def manager(understanding: ScriptedUnderstanding) -> DialogueManager:
    return DialogueManager(SKILLS, understanding, MemoryStore(), policy=DialogueSettings(switch_confidence=0.8))


def batches_of_turns(texts: Sequence[str]) -> list[list[list[tuple]]]:
    """For each turn of one conversation, the batches it read in."""
    understanding = BatchingUnderstanding()
    bot, turns = manager(understanding), []
    for text in texts:
        before = len(understanding.batches)
        bot.handle(Turn(conversation_id="c1", text=text))
        turns.append(understanding.batches[before:])
    return turns


def test_the_fake_is_a_submitting_understanding() -> None:
    assert isinstance(BatchingUnderstanding(), Submitting)
    assert not isinstance(ScriptedUnderstanding(RULES), Submitting)


def test_a_turn_after_a_request_reads_the_route_and_the_follow_up_in_one_batch() -> None:
    # "table for 3 at 8 pm" may be a follow-up of the alarm (its time): alarms' reading and the
    # route go together; the routed skill's reading needs the route, so it is a second batch
    turns = batches_of_turns(["alarm for 7 am", "table for 3 at 8 pm"])
    assert turns[1] == [[("route", None), ("read", "alarms")], [("read", "restaurant")]]


def test_a_follow_up_is_one_batch() -> None:
    turns = batches_of_turns(["alarm for 7 am", "8 am"])
    assert turns[1] == [[("route", None), ("read", "alarms")]]  # the route read along, not waited for


def test_a_pending_turn_reads_the_route_and_the_pending_skill_in_one_batch() -> None:
    turns = batches_of_turns(["book a table at 7 pm", "table for 3"])
    assert turns[1] == [[("route", None), ("read", "restaurant")]]


def test_nothing_is_read_ahead_when_only_the_route_is_sure_to_be_needed() -> None:
    turns = batches_of_turns(["alarm for 7 am", "hi", "hi", "alarm for 8 am"])
    assert turns[0] == [[("route", None)], [("read", "alarms")]]  # a first turn: no last request
    assert turns[3] == [[("route", None)], [("read", "alarms")]]  # the last request too long ago


def test_turns_that_need_no_model_read_nothing() -> None:
    turns = batches_of_turns(["set an alarm", "never mind", "alarm for 7 am", "🙂"])
    assert turns[1] == [] and turns[3] == []


CONVERSATION = ["alarm for 7 am", "8 am", "make it tomorrow", "table for 3 at 8 pm", "book a table",
                "9 pm", "alarm for 6 am", "4 people", "set an alarm", "tell me a joke", "7 am", "hmm",
                "cancel my alarm", "never mind", "count", "🙂", "crash", "weather today", "table for 2",
                "at 8 pm", "alarm", "cancel", "8 pm", "what's up", "10 pm", "table for 5 at 6 pm"]


@pytest.mark.parametrize("switch", [0.6, 0.8])
def test_asking_together_changes_no_reply_and_no_state(switch: float) -> None:
    plain, together = ScriptedUnderstanding(RULES), BatchingUnderstanding()
    settings = DialogueSettings(switch_confidence=switch)
    bots = [DialogueManager(SKILLS, u, MemoryStore(), policy=settings) for u in (plain, together)]
    replies = [[bot.handle(Turn(conversation_id="c1", text=text)).text for text in CONVERSATION] for bot in bots]
    assert replies[0] == replies[1]
    assert bots[0].store.load("c1") == bots[1].store.load("c1")
    # every read the plain understanding made was made together too; read along besides: routes
    # of follow-ups, and a pending skill's reading of a turn the router sent elsewhere
    extra = Counter(_keys(together.calls)) - Counter(_keys(plain.calls))
    assert not Counter(_keys(plain.calls)) - Counter(_keys(together.calls))
    assert extra and all(method == "route" or skill in ("alarms", "restaurant") for method, skill, _, _ in extra)
    reads = [c for c in plain.calls if c.method != "generate"]
    assert sum(len(turn) for turn in batches_of_turns(CONVERSATION)) < len(reads)


def _keys(calls: Sequence[Call]) -> list[tuple[str, str | None, str, int]]:
    return [(c.method, c.skill, c.text, len(c.history)) for c in calls]
