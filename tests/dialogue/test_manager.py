"""Whole conversations through DialogueManager with a scripted understanding and a memory store."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import pytest
from dialogue_fixtures import RULES, skill_set

import bot.dialogue
from bot.config.dialogue import DialogueSettings
from bot.dialogue import DialogueManager, ScriptedUnderstanding
from bot.errors import ConfigError
from bot.store import MemoryStore, StoreSettings, StoreUnavailable
from bot.types import ConversationState, Frame, Turn

SKILLS = skill_set(__name__)


def explode(frame: Frame, state: ConversationState) -> str:
    raise RuntimeError("the alarm clock is on fire")


def count_turns(frame: Frame, state: ConversationState) -> str:
    return f"This is turn {state.turns + 1}."  # differs on every call: shows a repeated answer


class Chat:
    """One conversation with a manager; `say` returns the reply text."""

    def __init__(self, manager: DialogueManager, conversation_id: str = "c1") -> None:
        self.manager, self.conversation_id = manager, conversation_id

    def say(self, text: str, turn_id: str | None = None) -> str:
        return self.reply(text, turn_id).text

    def reply(self, text: str, turn_id: str | None = None):
        return self.manager.handle(Turn(conversation_id=self.conversation_id, text=text, turn_id=turn_id))

    @property
    def state(self) -> ConversationState:
        return self.manager.store.load(self.conversation_id)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def manager(understanding, store) -> DialogueManager:
    # the rules' 0.6 stands for an unsure reading: these tests set the bar above it
    return DialogueManager(SKILLS, understanding, store, policy=DialogueSettings(switch_confidence=0.8))


@pytest.fixture
def chat(manager) -> Chat:
    return Chat(manager)


def test_public_api_is_exported() -> None:
    for name in bot.dialogue.__all__:
        assert hasattr(bot.dialogue, name), name


def test_the_manager_imports_no_model_libraries() -> None:
    code = "import sys, bot.dialogue; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_complete_request_is_answered_from_its_template(chat, monkeypatch) -> None:
    ticks = iter([10.0, 10.25])  # the turn's start and end on the manager's clock
    monkeypatch.setattr(bot.dialogue.manager, "time", type("Clock", (), {"perf_counter": lambda: next(ticks)}))
    reply = chat.reply("Set an alarm for 7 am")
    assert reply.text == "Alarm set for 7 am."  # the unfilled optional {day} leaves no gap
    assert reply.skill == "alarms" and reply.frame.intent == "set_alarm"
    assert reply.frame.slots == {"time": "7 am"} and reply.seconds == 0.25
    assert chat.state.waiting_for is None and chat.state.active_skill is None


def test_a_missing_slot_is_asked_for_and_the_answer_completes_it(chat) -> None:
    assert chat.say("set an alarm") == "For what time?"
    assert chat.state.waiting_for == "time" and chat.state.active_intent == "set_alarm"
    reply = chat.reply("7 am")
    assert reply.text == "Alarm set for 7 am." and reply.frame.slots == {"time": "7 am"}
    assert chat.state.waiting_for is None


def test_a_later_turn_changes_a_slot_already_given(chat) -> None:
    assert chat.say("book a table at 7 pm") == "For how many people at 7 pm?"
    assert chat.say("actually make it 8 pm") == "For how many people at 8 pm?"
    assert chat.say("4") == "Booked a table for 4 at 8 pm."


def test_cancel_drops_the_pending_request(chat) -> None:
    chat.say("set an alarm")
    reply = chat.reply("Never mind!")
    assert reply.text == "Okay, cancelled." and reply.skill == "alarms"
    state = chat.state
    assert state.waiting_for is None and state.slots == {} and state.active_skill is None


def test_a_cancel_word_with_nothing_pending_is_routed_as_usual(chat, manager) -> None:
    assert chat.say("cancel") == f"{manager.fallback_reply} I can help with alarms, chat, restaurant and tools."


def test_a_sure_reading_of_another_intent_of_the_waiting_skill_switches_to_it(chat) -> None:
    chat.say("set an alarm")
    assert chat.say("cancel my alarm for 7 am") == "Alarm for 7 am cancelled."


def test_another_skill_the_router_is_sure_of_takes_over(chat, understanding) -> None:
    chat.say("set an alarm")
    assert chat.say("book a table for 2 at 8 pm") == ("Booked a table for 2 at 8 pm. "
                                                      "Back to your alarms request: For what time?")
    assert [call.method for call in understanding.calls[-2:]] == ["route", "read"]
    assert chat.state.active_intent == "set_alarm" and chat.state.waiting_for == "time"


def test_every_pending_turn_is_routed_and_read_once(chat, understanding) -> None:
    chat.say("book a table at 7 pm")
    before = len(understanding.calls)
    chat.say("table for 3")
    assert [(call.method, call.skill) for call in understanding.calls[before:]] == [
        ("route", None), ("read", "restaurant")]


def test_a_turn_that_answers_nothing_gets_the_fallback_and_the_question_again(chat, manager) -> None:
    chat.say("set an alarm")
    assert chat.say("hmm, let me think") == f"{manager.fallback_reply} For what time?"
    assert chat.state.waiting_for == "time"


def test_an_out_of_scope_turn_gets_the_fallback(understanding, store) -> None:
    chat = Chat(DialogueManager(SKILLS, understanding, store, fallback_reply="Not my department."))
    reply = chat.reply("sing me a song")
    assert reply.text == "Not my department. I can help with alarms, chat, restaurant and tools."
    assert reply.skill is None and reply.frame is None
    quiet = Chat(DialogueManager(SKILLS, understanding, MemoryStore(), fallback_reply="Not my department.",
                                 policy=DialogueSettings(help_reply="")))
    assert quiet.say("sing me a song") == "Not my department."  # the help line is a setting


def test_the_help_line_names_one_skill_without_a_list() -> None:
    one = {"alarms": SKILLS["alarms"]}
    chat = Chat(DialogueManager(one, ScriptedUnderstanding(RULES), MemoryStore(),
                                policy=DialogueSettings(help_reply="Try: {skills}.")))
    assert chat.say("sing me a song") == "Sorry, I can't help with that yet. Try: alarms."


def test_generate_answers_with_model_text(chat) -> None:
    reply = chat.reply("tell me a joke")
    assert reply.text == "(chat) tell me a joke" and reply.skill == "chat"


def test_an_unknown_skill_from_the_router_gets_a_safe_reply_and_an_error(chat, manager, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.dialogue"):
        assert chat.say("what's the weather?") == manager.error_reply
    assert "'weather'" in caplog.text and "fix:" in caplog.text
    assert chat.state.history[0].text == "what's the weather?"


def test_a_failing_action_gets_an_apology_and_loses_no_turn(chat, manager, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.dialogue"):
        assert chat.say("crash now") == manager.error_reply
    record = next(r for r in caplog.records if r.name == "bot.dialogue")
    assert record.exc_info is not None and "on fire" in caplog.text and "tools" in caplog.text
    assert [(e.role, e.text) for e in chat.state.history] == [("user", "crash now"),
                                                              ("bot", manager.error_reply)]
    assert chat.say("set an alarm for 7 am") == "Alarm set for 7 am."  # the bot carries on


def test_a_failing_understanding_keeps_the_pending_request(chat, manager, understanding, caplog) -> None:
    chat.say("set an alarm")
    understanding.read = _raise  # the model breaks mid-conversation
    with caplog.at_level(logging.ERROR, logger="bot.dialogue"):
        assert chat.say("7 am") == manager.error_reply
    assert "model offline" in caplog.text
    state = chat.state
    assert state.waiting_for == "time" and state.history[-2].text == "7 am" and state.turns == 2


def _raise(*args: object) -> None:
    raise RuntimeError("model offline")


def test_a_missing_action_stops_the_manager_at_start_up(understanding, store) -> None:
    skills = {**SKILLS, "tools": SKILLS["tools"].model_copy(deep=True)}
    skills["tools"].intents[1].action = f"{__name__}:no_such_function"
    with pytest.raises(ConfigError) as caught:
        DialogueManager(skills, understanding, store)
    message = str(caught.value)
    assert "tools" in message and "'count'" in message and "no_such_function" in message
    assert "intents.1.action" in message and "fix: define `def no_such_function(frame, state)" in message


def test_an_action_sees_the_frame_and_the_state(chat) -> None:
    chat.say("set an alarm for 7 am")
    assert chat.say("count") == "This is turn 2."


class DownStore(MemoryStore):
    """A store whose server is gone, as RedisStore reports it."""

    def _down(self, *args: object) -> None:
        raise StoreUnavailable("redis://:hunter2@redis.internal:6379/0", "Connection refused")

    lock = seen = load = save = _down


def test_an_unreachable_store_gets_a_safe_reply_and_an_error_with_the_fix(understanding, caplog) -> None:
    manager = DialogueManager(SKILLS, understanding, DownStore())
    with caplog.at_level(logging.ERROR, logger="bot.dialogue"):
        for turn_id in (None, "t1"):  # `seen` fails first when there is a turn id, `lock` otherwise
            reply = manager.handle(Turn(conversation_id="c1", text="set an alarm", turn_id=turn_id))
            assert reply.text == manager.error_reply and reply.conversation_id == "c1"
            assert not reply.handled  # an adapter must not pass the apology off as the answer
    assert "unavailable" in caplog.text and "fix: start redis-server" in caplog.text
    assert "hunter2" not in caplog.text and not understanding.calls


def test_a_held_lock_gets_the_busy_reply_marked_not_handled(understanding) -> None:
    store = MemoryStore(StoreSettings(lock_wait_seconds=0.05))
    manager = DialogueManager(SKILLS, understanding, store, busy_reply="Busy, try again.")
    chat = Chat(manager)
    with store.lock("c1"):
        busy = chat.reply("count", turn_id="t1")
    assert (busy.text, busy.handled, store.load("c1").turns) == ("Busy, try again.", False, 0)
    retried = chat.reply("count", turn_id="t1")  # the client's retry, once the lock is free
    assert (retried.text, retried.handled) == ("This is turn 1.", True)
    assert chat.reply("count", turn_id="t1").text == "This is turn 1." and store.load("c1").turns == 1


def test_a_redelivered_turn_gets_its_first_reply_once(chat) -> None:
    first = chat.say("count", turn_id="slack-1")
    assert chat.say("count", turn_id="slack-1") == first == "This is turn 1."
    assert chat.state.turns == 1 and len(chat.state.history) == 2
    assert chat.say("count", turn_id="slack-2") == "This is turn 2."
    assert chat.say("count", turn_id="") == "This is turn 3."  # an empty id is no id
    assert chat.say("count", turn_id="") == "This is turn 4."


def test_a_turn_seen_but_never_answered_is_answered(chat, store, caplog) -> None:
    store.seen("turn:slack-9", 3600)  # a worker marked it, then died before saving
    with caplog.at_level(logging.WARNING, logger="bot.dialogue"):
        assert chat.say("count", turn_id="slack-9") == "This is turn 1."
    assert "never answered" in caplog.text


def test_history_is_bounded_and_reaches_the_understanding(understanding, store) -> None:
    chat = Chat(DialogueManager(SKILLS, understanding, store, history_turns=2))
    for hour in range(1, 6):
        chat.say(f"set an alarm for {hour} am")
    history = chat.state.history
    assert len(history) == 4 and history[-1].text == "Alarm set for 5 am."
    assert history[0].text == "set an alarm for 4 am"
    assert len(understanding.calls[-1].history) == 4


def test_bad_settings_are_refused(understanding, store) -> None:
    with pytest.raises(ValueError, match="history_turns must be at least 1"):
        DialogueManager(SKILLS, understanding, store, history_turns=0)
    with pytest.raises(ValueError, match="less than or equal to 1"):
        DialogueSettings(switch_confidence=1.5)


def test_skills_must_be_keyed_by_name(understanding, store) -> None:
    with pytest.raises(ValueError, match="key each skill by its name"):
        DialogueManager({"alarm": SKILLS["alarms"]}, understanding, store)


class SlowUnderstanding(ScriptedUnderstanding):
    """Routing takes a moment, so unlocked turns would interleave and overwrite each other."""

    def route(self, text, history):
        time.sleep(0.001)
        return super().route(text, history)


def test_concurrent_turns_of_one_conversation_lose_nothing(store) -> None:
    manager = DialogueManager(SKILLS, SlowUnderstanding(RULES), store, history_turns=100)

    def talk(name: str) -> None:
        for number in range(15):
            manager.handle(Turn(conversation_id="c1", text=f"{name} {number}"))

    threads = [threading.Thread(target=talk, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = store.load("c1")
    said = sorted(e.text for e in state.history if e.role == "user")
    assert state.turns == 30 and said == sorted(f"{n} {i}" for n in ("ann", "bob") for i in range(15))
