"""ScriptedUnderstanding: the test double for the model, shipped for skill authors' tests too."""

from __future__ import annotations

import pytest

from bot.dialogue import Call, Route, Rule, ScriptedUnderstanding, Understanding
from bot.types import Frame, HistoryEntry

RULES = [
    Rule(r"alarm( for (?P<time>\d+ ?[ap]m))?", "alarms", "set_alarm"),
    Rule(r"(?P<time>\d+ ?[ap]m)", "alarms", "set_alarm", confidence=0.6),
    Rule(r"table", "restaurant", "book_table", slots={"people": "2"}),
]


@pytest.fixture
def scripted() -> ScriptedUnderstanding:
    return ScriptedUnderstanding(RULES)


def test_it_is_an_understanding(scripted) -> None:
    assert isinstance(scripted, Understanding)


def test_route_takes_the_first_matching_rule_ignoring_case(scripted) -> None:
    assert scripted.route("Set an ALARM", []) == Route("alarms", 1.0)
    assert scripted.route("7 am", []) == Route("alarms", 0.6)
    assert scripted.route("a table please", []) == Route("restaurant", 1.0)


def test_route_with_no_match_is_out_of_scope(scripted) -> None:
    assert scripted.route("sing", []).skill is None


def test_read_turns_named_groups_into_slots(scripted) -> None:
    assert scripted.read("alarms", "alarm for 7 am", []) == Frame(intent="set_alarm", slots={"time": "7 am"},
                                                                   confidence=1.0)
    assert scripted.read("alarms", "an alarm", []).slots == {}  # a group that did not match is no slot


def test_read_adds_fixed_slots_and_tries_only_the_skills_rules(scripted) -> None:
    assert scripted.read("restaurant", "table at 7 am", []).slots == {"people": "2"}
    assert scripted.read("restaurant", "alarm", []) == Frame(intent="", confidence=0.0)


def test_generate_formats_skill_and_text() -> None:
    scripted = ScriptedUnderstanding([], generated="[{skill}] you said: {text}")
    assert scripted.generate("chat", "hi", []) == "[chat] you said: hi"


def test_calls_are_recorded_with_history(scripted) -> None:
    history = [HistoryEntry(role="user", text="hi"), HistoryEntry(role="bot", text="hello")]
    scripted.route("alarm", history)
    scripted.read("alarms", "alarm", history)
    assert scripted.calls == [Call("route", None, "alarm", tuple(history)),
                              Call("read", "alarms", "alarm", tuple(history))]


def test_a_bad_pattern_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'\(unclosed'"):
        ScriptedUnderstanding([Rule("(unclosed", "s", "i")])


@pytest.mark.parametrize("confidence", [-0.1, 1.1])
def test_route_confidence_must_be_a_probability(confidence) -> None:
    with pytest.raises(ValueError, match="confidence"):
        Route("alarms", confidence)
