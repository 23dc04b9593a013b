"""Slot-filling steps on a ConversationState, one at a time."""

from __future__ import annotations

import pytest

from bot.config import SkillConfig
from bot.dialogue.tracking import REPLY_MEMORY, after_cancel, is_cancel, missing_slot, record, valid_frame
from bot.types import ConversationState, Frame

SKILL = SkillConfig.model_validate({"name": "alarms", "slots": [{"name": "time"}, {"name": "day"}],
                                    "intents": [{"name": "set_alarm", "required_slots": ["time", "day"]}]})
WORDS = ("cancel", "never mind")


@pytest.mark.parametrize(("text", "cancels"), [
    ("cancel", True), ("Never  mind!", True), ("  CANCEL. ", True),
    ("cancel my alarm", False), ("never", False), ("", False),
])
def test_is_cancel_needs_the_whole_turn(text, cancels) -> None:
    assert is_cancel(text, WORDS) is cancels


@pytest.mark.parametrize(("text", "cancels"), [
    ("cancel that alarm", True), ("no, cancel it please", True), ("oh never mind that", True),
    ("cancel my 6 am alarm", False), ("never mind, what's the weather", False), ("that alarm", False),
])
def test_is_cancel_allows_the_words_given_beside_the_phrase(text, cancels) -> None:
    assert is_cancel(text, WORDS, also=("that", "alarm", "no", "it", "please", "oh", "what's", "the")) is cancels


@pytest.mark.parametrize(("text", "rest"), [
    ("never mind, what's the weather", "what's the weather"), ("never mind what's the weather", "what's the weather"),
    ("no, cancel that alarm. play jazz", "play jazz"), ("never mind that alarm - weather in oslo", "weather in oslo"),
    ("cancel. set one for 9", "set one for 9"),
    ("cancel my 6 am alarm", None), ("never mind", None), ("no, cancel that alarm", None), ("cancel, please", None),
    ("cancellation policy, please", None), ("play jazz, never mind", None),
])
def test_after_cancel_is_the_rest_of_a_turn_opening_with_a_cancel_clause(text, rest) -> None:
    assert after_cancel(text, WORDS, also=("that", "alarm", "no", "please")) == rest


def test_valid_frame_drops_undeclared_and_empty_slots() -> None:
    frame = Frame(intent="set_alarm", slots={"time": " 7 am ", "colour": "red", "day": " "}, confidence=0.9)
    assert valid_frame(frame, SKILL) == Frame(intent="set_alarm", slots={"time": "7 am"}, confidence=0.9)


def test_valid_frame_refuses_an_unknown_intent() -> None:
    assert valid_frame(Frame(intent="fly", confidence=1.0), SKILL) is None
    assert valid_frame(Frame(intent="", confidence=0.0), SKILL) is None


def test_missing_slot_follows_the_configured_order() -> None:
    intent = SKILL.intent("set_alarm")
    assert missing_slot(intent, {}) == "time"
    assert missing_slot(intent, {"time": "7 am"}) == "day"
    assert missing_slot(intent, {"time": "7 am", "day": "today"}) is None


def test_record_bounds_history_and_remembered_replies() -> None:
    state = ConversationState(conversation_id="c1")
    for number in range(REPLY_MEMORY + 5):
        record(state, f"hi {number}", f"reply {number}", turn_id=f"t{number}", keep=4)
    assert [e.text for e in state.history] == [f"hi {REPLY_MEMORY + 3}", f"reply {REPLY_MEMORY + 3}",
                                               f"hi {REPLY_MEMORY + 4}", f"reply {REPLY_MEMORY + 4}"]
    assert len(state.replies) == REPLY_MEMORY and "t4" not in state.replies and "t5" in state.replies
    assert state.turns == REPLY_MEMORY + 5
