"""Responders: which one answers, what each says, and actions checked when the manager starts."""

from __future__ import annotations

import pytest
from dialogue_fixtures import RULES, skill_set

from bot.config import SkillConfig
from bot.dialogue import (DEFAULT_RESPONSE, ActionError, ResponseContext, Responses,
                          ScriptedUnderstanding, default_question, load_action, response_kind)
from bot.errors import ConfigError
from bot.types import ConversationState, Frame

SKILLS = skill_set(__name__)


def explode(frame: Frame, state: ConversationState) -> str:
    raise RuntimeError("boom")


def count_turns(frame: Frame, state: ConversationState) -> str:
    state.slots["scribbled"] = "yes"  # an action may not change the conversation behind its back
    return f"{frame.intent} at turn {state.turns}"


def not_text(frame: Frame, state: ConversationState) -> int:
    return 42


def one_argument(frame: Frame) -> str:
    return "?"


def context(skill: str, intent: str, slots: dict[str, str] | None = None,
            missing: str | None = None, state: ConversationState | None = None) -> ResponseContext:
    config = SKILLS[skill]
    return ResponseContext(config, config.intent(intent), Frame(intent=intent, slots=slots or {}, confidence=1),
                           state or ConversationState(conversation_id="c1"), "the text", (), missing)


@pytest.fixture
def responses() -> Responses:
    return Responses(SKILLS, ScriptedUnderstanding(RULES))


@pytest.mark.parametrize(("skill", "intent", "missing", "kind"), [
    ("alarms", "set_alarm", "time", "question"),
    ("alarms", "set_alarm", None, "template"),
    ("tools", "count", None, "action"),
    ("chat", "chat", None, "generate"),
])
def test_response_kind(skill, intent, missing, kind) -> None:
    assert response_kind(context(skill, intent, missing=missing)) == kind


def test_every_kind_has_a_responder(responses) -> None:
    assert set(responses.responders) == {"question", "template", "action", "generate"}


def test_template_fills_slots_and_tidies_an_unfilled_optional_one(responses) -> None:
    assert responses.respond(context("alarms", "set_alarm", {"time": "7 am", "day": "today"})) == \
        "Alarm set for 7 am today."
    assert responses.respond(context("alarms", "set_alarm", {"time": "7 am"})) == "Alarm set for 7 am."


def test_an_intent_without_a_response_says_okay() -> None:
    skill = SkillConfig.model_validate({"name": "s", "intents": [{"name": "hi"}]})
    ctx = ResponseContext(skill, skill.intent("hi"), Frame(intent="hi", confidence=1),
                          ConversationState(conversation_id="c1"), "hi", ())
    assert Responses({"s": skill}, ScriptedUnderstanding([])).respond(ctx) == DEFAULT_RESPONSE


def test_configured_question_uses_filled_slots(responses) -> None:
    ctx = context("restaurant", "book_table", {"time": "8 pm"}, missing="people")
    assert responses.respond(ctx) == "For how many people at 8 pm?"


def test_default_question_for_a_slot_without_one(responses) -> None:
    assert responses.respond(context("restaurant", "book_table", missing="time")) == "What time?"
    assert default_question("start_date") == "What start date?"


def test_generate_asks_the_understanding(responses) -> None:
    assert responses.respond(context("chat", "chat")) == "(chat) the text"


def test_an_action_gets_copies_of_frame_and_state(responses) -> None:
    state = ConversationState(conversation_id="c1", turns=3)
    assert responses.respond(context("tools", "count", state=state)) == "count at turn 3"
    assert state.slots == {}


def test_an_action_that_raises_becomes_an_action_error_naming_it(responses) -> None:
    with pytest.raises(ActionError, match=r"explode \(skill 'tools', intent 'crash'\) raised RuntimeError: boom"):
        responses.respond(context("tools", "crash"))


def test_an_action_must_return_text() -> None:
    action = load_action(f"{__name__}:not_text", skill="tools", intent="count")
    responses = Responses(SKILLS, ScriptedUnderstanding([]))
    responses._actions["tools", "count"] = action
    with pytest.raises(ActionError, match="returned int"):
        responses.respond(context("tools", "count"))


@pytest.mark.parametrize(("spec", "problem", "fix"), [
    ("no_such_module_xyz:run", "cannot be imported", "PYTHONPATH"),
    (f"{__name__}:missing", "has no function 'missing'", "def missing(frame, state)"),
    (f"{__name__}:SKILLS", "has no function 'SKILLS'", "def SKILLS(frame, state)"),
    (f"{__name__}:one_argument", "does not accept (frame, state)", "signature"),
])
def test_an_action_that_cannot_be_used_is_a_config_error(spec, problem, fix) -> None:
    with pytest.raises(ConfigError) as caught:
        load_action(spec, skill="tools", intent="count", field="intents.1.action")
    err = caught.value
    assert problem in err.problem and fix in err.fix and "'count'" in err.problem
    assert err.field == "intents.1.action" and "skill 'tools'" in str(err)


def test_a_module_that_fails_on_import_is_a_config_error(tmp_path, monkeypatch) -> None:
    (tmp_path / "broken_actions_xyz.py").write_text("raise RuntimeError('half-written module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="RuntimeError: half-written module"):
        load_action("broken_actions_xyz:run", skill="tools", intent="count")


def test_actions_are_loaded_when_responses_are_built() -> None:
    skills = skill_set("no_such_module_xyz")
    with pytest.raises(ConfigError, match="intents.0.action"):
        Responses(skills, ScriptedUnderstanding([]))
