"""Every row of the digression policy table (bot/dialogue/policy.py), on a scripted understanding."""

from __future__ import annotations

import pytest

from bot.config import SkillConfig
from bot.config.dialogue import DialogueSettings
from bot.dialogue import DialogueManager, Rule, ScriptedUnderstanding
from bot.dialogue.policy import IDLE_RULES, PENDING_RULES, Move, Situation, decide
from bot.store import MemoryStore
from bot.types import Route, Turn

TIME = r"(?P<time>\d+ ?[ap]m)"
RULES = [
    Rule(rf"weather( in (?P<place>[a-z]+))?( (?P<date>tomorrow|today))?", "weather", "forecast"),
    Rule(r"maybe", "weather", "forecast", confidence=0.5),  # the router is unsure of it
    Rule(rf"which alarms", "alarm", "list_alarms"),
    Rule(rf"alarm( at {TIME})?", "alarm", "set_alarm"),
    Rule(r"calendar( for (?P<date>monday|tuesday))?", "calendar", "add_event"),
    Rule(r"^(?P<event_name>lunch|dinner)$", "calendar", "add_event", confidence=0.7),
    Rule(rf"^{TIME}$", "calendar", "add_event", confidence=0.6),  # the router's unsure guess
    Rule(TIME, "alarm", "set_alarm", confidence=0.9),  # the alarm skill reads an answer
    Rule(r"(in (?P<place>[a-z]+))|(?P<date>tomorrow|today)", "weather", "forecast", confidence=0.6),
]
SKILLS = {s["name"]: SkillConfig.model_validate(s) for s in [
    {"name": "alarm", "slots": [{"name": "time"}], "intents": [
        {"name": "set_alarm", "required_slots": ["time"], "response": "Alarm set for {time}.",
         "questions": {"time": "For what time?"}},
        {"name": "list_alarms", "response": "Here are your alarms."}]},
    {"name": "weather", "slots": [{"name": "place"}, {"name": "date"}], "intents": [
        {"name": "forecast", "response": "Weather in {place} {date}."}]},
    {"name": "calendar", "slots": [{"name": "event_name"}, {"name": "date"}], "intents": [
        {"name": "add_event", "required_slots": ["event_name"], "response": "Added {event_name}.",
         "questions": {"event_name": "What should I add?"}}]},
]}


class Chat:
    def __init__(self, skills: dict[str, SkillConfig] = SKILLS, **settings: object) -> None:
        self.understanding = ScriptedUnderstanding(RULES)
        # the rules' 0.6 stands for an unsure guess: these tests set the bar above it
        self.manager = DialogueManager(skills, self.understanding, MemoryStore(),
                                       policy=DialogueSettings(**{"switch_confidence": 0.8, **settings}))

    def say(self, text: str) -> str:
        return self.manager.handle(Turn(conversation_id="c", text=text)).text

    def reply(self, text: str):
        return self.manager.handle(Turn(conversation_id="c", text=text))

    @property
    def state(self):
        return self.manager.store.load("c")


@pytest.fixture
def chat() -> Chat:
    return Chat()


def _move(chat: Chat, text: str) -> Move:
    state = chat.state
    return decide(Situation(text=text, state=state, history=(), skills=chat.manager.skills,
                            understanding=chat.understanding,
                            settings=chat.manager.policy, cancel_words=chat.manager.cancel_words,
                            pending=chat.manager._pending_skill(state)))


# --- rows 1-6: a question is pending ----------------------------------------------------------

@pytest.mark.parametrize(("text", "reply"), [
    ("明日の朝7時にアラーム", "Sorry, I can only read English for now. Could you say that in English? For what time?"),
    ("⏰😴", "I can't read emoji or symbols on their own; could you say it in words? For what time?"),
    ("  ", "I got an empty message. What can I do for you? For what time?"),
])
def test_row_1_unreadable_text_says_so_and_asks_again_without_a_model_call(chat, text, reply) -> None:
    chat.say("alarm")
    before = len(chat.understanding.calls)
    assert _move(chat, text) is Move.unreadable
    assert chat.say(text) == reply
    assert len(chat.understanding.calls) == before and chat.state.waiting_for == "time"


def test_row_2_cancel_drops_the_pending_request(chat) -> None:
    chat.say("alarm")
    assert _move(chat, "never mind") is Move.cancel
    assert chat.say("Never mind!") == "Okay, cancelled."
    assert chat.state.active_skill is None and chat.state.waiting_for is None


@pytest.mark.parametrize("text", ["cancel that alarm", "no, cancel the alarm request", "stop it"])
def test_row_2_a_cancel_phrase_with_fillers_or_the_skills_name_drops_it(chat, text) -> None:
    """"cancel that alarm" while an alarm waits for its time was read as alarm_remove: 'You have no
    alarms set.', the request still open."""
    chat.say("alarm")
    before = len(chat.understanding.calls)
    assert _move(chat, text) is Move.cancel
    assert chat.say(text) == "Okay, cancelled."
    assert chat.state.active_skill is None and len(chat.understanding.calls) == before  # no model call


def test_row_2_cancelling_a_digression_resumes_the_request_it_set_aside(chat) -> None:
    chat.say("alarm")
    assert chat.say("calendar") == "What should I add?"  # the alarm is set aside
    assert chat.say("cancel") == "Okay, cancelled. Back to your alarm request: For what time?"
    assert chat.say("7 am") == "Alarm set for 7 am."


@pytest.mark.parametrize("text", ["never mind, weather in rome", "forget it weather in rome",
                                  "no, cancel that alarm. weather in rome"])
def test_row_2b_a_cancel_clause_then_a_request_drops_the_pending_one_and_serves_the_rest(chat, text) -> None:
    """"never mind, what's the weather in berlin" served the weather, then asked for the alarm's time again."""
    chat.say("alarm")
    assert _move(chat, text) is Move.cancel_then
    assert chat.say(text) == "Okay, cancelled. Weather in rome."
    assert chat.state.active_skill is None and chat.state.suspended is None
    assert {call.text for call in chat.understanding.calls[-2:]} == {"weather in rome"}  # the rest, read alone


def test_row_2b_the_rest_may_start_a_request_of_its_own(chat) -> None:
    chat.say("alarm")
    assert chat.say("forget it, calendar for monday") == "Okay, cancelled. What should I add?"
    assert chat.state.active_skill == "calendar" and chat.state.suspended is None
    assert chat.say("lunch") == "Added lunch."


def test_row_2b_cancelling_a_digression_then_asking_resumes_the_request_set_aside(chat) -> None:
    chat.say("alarm")
    chat.say("calendar")  # the alarm is set aside
    assert chat.say("never mind, 7 am") == "Okay, cancelled. Alarm set for 7 am."


def test_row_3_a_turn_of_only_filler_words_starts_no_other_intent() -> None:
    """"hmm" while an event waited for its name was read as calendar_query: "Nothing is on your
    calendar.", the event dropped."""
    manager = DialogueManager(SKILLS, ScriptedUnderstanding([Rule(r"^(hmm|ok)$", "alarm", "list_alarms"), *RULES]),
                              MemoryStore(), policy=DialogueSettings(switch_confidence=0.8))
    say = lambda text: manager.handle(Turn(conversation_id="c", text=text)).text  # noqa: E731
    say("alarm")
    assert say("hmm") == "For what time?"
    assert say("7 am") == "Alarm set for 7 am."


@pytest.mark.parametrize("text", ["thx", "ok great!", "Yep, thanks"])
def test_row_7c_only_filler_words_and_an_unsure_router_get_the_fallback(text) -> None:
    """"thx" after "Set an alarm for 7:15 AM" was routed to the alarm (0.52), read as alarm_remove,
    and removed the alarm."""
    chat = Chat()
    rules = [Rule(r"thx|ok|yep", "alarm", "list_alarms", confidence=0.52), *RULES]
    chat.understanding = chat.manager.understanding = ScriptedUnderstanding(rules)
    chat.say("alarm at 7 am")
    assert _move(chat, text) is Move.fallback
    assert chat.say(text).startswith("Sorry, I can't help with that yet.")


def test_row_7c_a_skill_the_router_is_sure_of_still_gets_them() -> None:
    """A small-talk skill that answers "thanks" keeps its turns."""
    chat = Chat()
    rules = [Rule(r"thanks", "alarm", "list_alarms", confidence=0.95), *RULES]
    chat.understanding = chat.manager.understanding = ScriptedUnderstanding(rules)
    assert _move(chat, "thanks") is Move.start
    assert chat.say("thanks") == "Here are your alarms."


def test_row_7b_with_nothing_pending_a_cancel_clause_is_left_out_of_the_turn(chat) -> None:
    assert _move(chat, "wait, never mind. weather in rome") is Move.cancel_then
    assert chat.say("wait, never mind. weather in rome") == "Weather in rome."
    assert chat.say("never mind") == chat.say("hi")  # nothing to cancel: read as ever
    assert _move(chat, "forget it, the alarm") is not Move.cancel_then  # read whole: "the alarm" is no request


def test_row_3_the_router_picks_the_pending_skill(chat) -> None:
    chat.say("alarm")
    assert _move(chat, "alarm at 8 pm") is Move.keep
    assert chat.say("alarm at 8 pm") == "Alarm set for 8 pm."


def test_row_3_a_sure_reading_of_another_intent_of_the_pending_skill_starts_it(chat) -> None:
    chat.say("alarm")
    reply = chat.reply("which alarms are set")
    assert reply.text == "Here are your alarms."
    assert (reply.frame.intent, reply.frame.confidence) == ("list_alarms", 1.0)  # the reading's, not 0
    assert chat.state.waiting_for is None


def test_row_4_an_answer_the_router_is_unsure_about_fills_the_asked_slot(chat) -> None:
    chat.say("alarm")
    assert chat.understanding.route("7 am", ()).skill == "calendar"  # the router's unsure guess
    assert _move(chat, "7 am") is Move.keep
    reply = chat.reply("7 am")
    assert (reply.text, reply.skill, reply.frame.slots) == ("Alarm set for 7 am.", "alarm", {"time": "7 am"})


def test_row_4_an_answer_below_answer_confidence_does_not_count(chat) -> None:
    chat = Chat(answer_confidence=0.95)  # the alarm skill reads "7 am" at 0.9
    chat.say("alarm")
    assert _move(chat, "7 am") is Move.not_understood


def test_row_4_a_reading_of_another_intent_is_no_answer() -> None:
    """"what's the weather in paris" with the router unsure, read by the alarm skill as list_alarms
    with time=paris (as a shipped table did): not an answer to "For what time?", nor a new request."""
    chat = Chat()
    rules = [*RULES[:2], Rule(r"nice at (?P<time>[a-z]+)", "alarm", "list_alarms", confidence=0.7), *RULES[2:]]
    chat.understanding = chat.manager.understanding = ScriptedUnderstanding(rules)
    chat.say("alarm")
    text = "maybe it is nice at paris"  # the router names weather at 0.5, below the bar
    assert chat.understanding.read("alarm", text, ()).intent == "list_alarms"
    assert _move(chat, text) is Move.not_understood
    assert chat.say(text) == "Sorry, I can't help with that yet. For what time?"
    assert (chat.state.active_intent, chat.state.slots) == ("set_alarm", {})
    assert chat.say("7 am") == "Alarm set for 7 am."


def test_row_4_does_not_take_an_answer_the_router_is_sure_is_out_of_scope(chat) -> None:
    """"what's the capital of france" read by the alarm skill as time=france: the router's sure
    out-of-scope verdict (a Route(None) at switch_confidence) wins over that reading."""
    class SureOutOfScope(ScriptedUnderstanding):
        def route(self, text, history):
            found = super().route(text, history)
            if text.startswith("what's the capital"):
                return Route(None, 0.97)  # sure: out of scope
            return Route(None, 0.4) if text.startswith("maybe") else found  # a weak route, below any bar

    rules = [*RULES, Rule(r"capital of (?P<time>[a-z]+)", "alarm", "set_alarm", confidence=0.6)]
    chat.understanding = SureOutOfScope(rules)
    chat.manager.understanding = chat.understanding
    chat.say("alarm")
    assert _move(chat, "what's the capital of france") is Move.not_understood
    assert chat.say("what's the capital of france") == "Sorry, I can't help with that yet. For what time?"
    assert _move(chat, "maybe the capital of france") is Move.keep  # the router is not sure of anything


class Routed(ScriptedUnderstanding):
    """The scripted rules, but the router's answer for some turns fixed (as the shipped router's)."""

    def __init__(self, rules: list[Rule], routes: dict[str, Route]) -> None:
        super().__init__(rules)
        self.routes = routes

    def route(self, text, history):
        found = super().route(text, history)
        return self.routes.get(text, found)


def _routed(chat: Chat, routes: dict[str, Route], extra: tuple[Rule, ...] = ()) -> Chat:
    chat.understanding = chat.manager.understanding = Routed([*extra, *RULES], routes)
    return chat


SURE_OUT = Route(None, 0.97)  # the router sure the turn is out of scope


def test_row_4b_an_answer_of_only_slot_values_outweighs_a_sure_out_of_scope(chat) -> None:
    """"quarter past six" for "For what time?": the shipped router called it out of scope at 0.71,
    so the alarm skill's reading of it (time=quarter past six, 0.98) went to the fallback."""
    _routed(chat, {"7 am": SURE_OUT})
    chat.say("alarm")
    assert _move(chat, "7 am") is Move.keep
    reply = chat.reply("7 am")
    assert (reply.text, reply.skill, reply.frame.slots) == ("Alarm set for 7 am.", "alarm", {"time": "7 am"})
    assert chat.state.waiting_for is None


def test_row_4b_a_change_of_mind_while_pending_corrects_the_request_and_asks_again(chat) -> None:
    """"actually make it tuesday" while the calendar asks what to put on monday: the shipped router
    called it out of scope at 0.94 and the fallback threw away the calendar's reading (date=tuesday)."""
    make_it = Rule(r"make it (?P<date>monday|tuesday)", "calendar", "add_event", confidence=0.8)
    _routed(chat, {"actually make it tuesday": SURE_OUT}, extra=(make_it,))
    assert chat.say("calendar for monday") == "What should I add?"
    assert chat.state.slots == {"date": "monday"}
    assert _move(chat, "actually make it tuesday") is Move.keep
    reply = chat.reply("actually make it tuesday")
    assert (reply.text, reply.skill, reply.frame.slots) == ("What should I add?", "calendar", {"date": "tuesday"})
    assert (chat.state.slots, chat.state.waiting_for) == ({"date": "tuesday"}, "event_name")
    reply = chat.reply("lunch")
    assert (reply.text, reply.frame.slots) == ("Added lunch.", {"date": "tuesday", "event_name": "lunch"})


def test_row_4b_a_sure_out_of_scope_still_wins_over_other_readings(chat) -> None:
    """Only slot values of the pending intent outweigh it: not "ok thanks" read as another of the
    skill's intents (the shipped calendar read it as calendar_remove, event_name=thanks), not a turn
    with words of its own, not a reading below answer_confidence."""
    thanks = Rule(r"^ok (?P<time>thanks)$", "alarm", "list_alarms", confidence=0.7)
    _routed(chat, {"ok thanks": SURE_OUT, "7 am tell me a joke": SURE_OUT}, extra=(thanks,))
    chat.say("alarm")
    assert _move(chat, "ok thanks") is Move.not_understood
    assert _move(chat, "7 am tell me a joke") is Move.not_understood
    assert chat.say("ok thanks") == "Sorry, I can't help with that yet. For what time?"
    strict = _routed(Chat(answer_confidence=0.95), {"7 am": SURE_OUT})  # the alarm skill reads "7 am" at 0.9
    strict.say("alarm")
    assert _move(strict, "7 am") is Move.not_understood


def test_row_4b_a_correction_cue_outweighs_the_intent_read(chat) -> None:
    """"sorry, 8 am" for "For what time?" read as list_alarms (no intent words in it) and called out
    of scope: the cue makes it a correction of the pending request (i); "ok thanks" still is not."""
    misread = Rule(rf"^(sorry|ok),? {TIME}$", "alarm", "list_alarms", confidence=0.8)
    _routed(chat, {"sorry, 8 am": SURE_OUT, "ok 8 am": SURE_OUT}, extra=(misread,))
    chat.say("alarm")
    assert _move(chat, "ok 8 am") is Move.not_understood  # no cue: another intent's reading loses
    assert _move(chat, "sorry, 8 am") is Move.keep
    reply = chat.reply("sorry, 8 am")
    assert (reply.text, reply.frame.intent, reply.frame.slots) == ("Alarm set for 8 am.", "set_alarm", {"time": "8 am"})


def test_row_4c_a_correction_of_the_pending_request_outweighs_a_router_sure_of_another_skill(chat) -> None:
    """"no, make that saturday" while an alarm waits for its time: the shipped router was sure of the
    calendar (0.89), which read calendar_remove date=saturday, while the alarm read date=saturday."""
    _routed(chat, {"no, 8 am": Route("calendar", 0.97), "8 am": Route("calendar", 0.97)})
    chat.say("alarm")
    assert _move(chat, "8 am") is Move.digress  # no cue: the router decides (row 5)
    assert _move(chat, "no, 8 am") is Move.keep
    assert chat.say("no, 8 am") == "Alarm set for 8 am."


def test_row_4c_leaves_a_correction_of_the_digression_just_served_to_it(chat) -> None:
    in_oslo = Rule(r"^no, in (?P<time>oslo)$", "alarm", "set_alarm", confidence=0.8)  # a misread
    _routed(chat, {"no, in oslo": Route("weather", 0.97)}, extra=(in_oslo,))
    chat.say("alarm")
    chat.say("weather in paris")
    assert _move(chat, "no, in oslo") is Move.digress
    assert chat.say("no, in oslo") == "Weather in oslo. Back to your alarm request: For what time?"


def test_row_4b_a_router_sure_of_another_skill_still_digresses(chat) -> None:
    _routed(chat, {"7 am": Route("weather", 0.97)})
    chat.say("alarm")
    assert _move(chat, "7 am") is Move.digress


WORDED_CALENDAR = SkillConfig.model_validate({
    "name": "calendar", "slots": [{"name": "event_name", "from_answer": True}, {"name": "date"}, {"name": "person"}],
    "intents": [{"name": "add_event", "required_slots": ["event_name"], "response": "Added {event_name}.",
                 "questions": {"event_name": "What should I add?"}},
                {"name": "remove_event", "response": "Removed {event_name}."},
                {"name": "list_events", "response": "Your events."}]})


def _worded(routes: dict[str, Route]) -> Chat:
    """The calendar's event_name takes the answer's own words (`from_answer`), footnote (k)."""
    chat = _routed(Chat({**SKILLS, "calendar": WORDED_CALENDAR}), routes, extra=(
        Rule(r"lunch with (?P<person>sam)", "calendar", "add_event", confidence=0.74),
        Rule(r"football practice", "calendar", "list_events", confidence=0.84),
        Rule(r"remove the (?P<event_name>dentist)", "calendar", "remove_event", confidence=0.9),
        Rule(r"make it (?P<date>tuesday)", "calendar", "add_event", confidence=0.8),
        Rule(r"remind me (?P<date>tuesday)", "calendar", "add_event", confidence=0.8),
        Rule(r"lunch with (?P<person>bob) at the pier", "calendar", "list_events", confidence=0.89),
        Rule(r"team (?P<event_name>standup)", "calendar", "list_events", confidence=0.46)))
    assert chat.say("calendar for monday") == "What should I add?"
    return chat


@pytest.mark.parametrize(("text", "slots"), [
    ("lunch with sam", {"date": "monday", "person": "sam", "event_name": "lunch with sam"}),  # row 3, no event tagged
    ("just football practice please", {"date": "monday", "event_name": "football practice"}),  # another intent, no slots
    ("Buy Milk!", {"date": "monday", "event_name": "Buy Milk"}),  # row 4b: nothing read, the router unsure
    ("hmm, call mom", {"date": "monday", "event_name": "call mom"}),  # row 4b: the router sure it is out of scope
    # another intent with slots, but routed out of scope: the skill's intent on a fragment is no
    # evidence; the slots it tagged that add_event carries are kept
    ("lunch with bob at the pier", {"date": "monday", "person": "bob", "event_name": "lunch with bob at the pier"}),
    ("team standup", {"date": "monday", "event_name": "team standup"}),  # the slot tagged, but in another intent
])
def test_row_3_and_4b_a_free_text_slot_takes_the_answers_own_words(text, slots) -> None:
    chat = _worded({"Buy Milk!": Route(None, 0.3), "hmm, call mom": SURE_OUT, "lunch with bob at the pier": SURE_OUT,
                    "team standup": SURE_OUT})
    assert _move(chat, text) is Move.keep
    reply = chat.reply(text)
    assert (reply.text, reply.frame.intent, reply.frame.slots) == (f"Added {slots['event_name']}.", "add_event", slots)
    assert chat.state.waiting_for is None


@pytest.mark.parametrize(("text", "move"), [
    ("what's on monday", Move.not_understood),  # a question
    ("ok thanks", Move.not_understood),  # only fillers (greetings and thanks are fillers)
    ("hi", Move.not_understood),
    ("actually make it tuesday", Move.keep),  # a change of mind (row 4b): the date changes, no event named
    ("remind me tuesday", Move.keep),  # a new date and other words: a change of mind too (row 3)
    ("weather in rome", Move.digress),  # the router sure of another skill
])
def test_a_free_text_slot_does_not_take_a_request_a_change_of_mind_or_small_talk(text, move) -> None:
    unsure = Route(None, 0.3)
    chat = _worded({"ok thanks": SURE_OUT, "what's on monday": unsure, "hi": unsure, "actually make it tuesday": unsure})
    assert _move(chat, text) is move
    assert chat.say(text).endswith("What should I add?")
    assert chat.state.slots == {"date": "tuesday" if "tuesday" in text else "monday"}


def test_row_3_an_unsure_reading_of_another_intent_is_no_request_of_its_own() -> None:
    """"dinner with mom on saturday" for "What should I put in your calendar?" was read as
    calendar_query at 0.51 and routed to the calendar: taken for another request, it was asked again."""
    chat = _routed(Chat({**SKILLS, "calendar": WORDED_CALENDAR}), {"dinner": Route(skill="calendar", confidence=0.99)},
                   extra=(Rule(r"dinner on (?P<date>saturday)", "calendar", "list_events", confidence=0.51),))
    chat.say("calendar")
    reply = chat.reply("dinner on saturday")
    assert reply.text == "Added dinner on saturday."
    assert reply.frame.slots == {"event_name": "dinner on saturday", "date": "saturday"}


def test_a_free_text_slot_leaves_another_intent_with_slots_of_its_own_to_the_skill() -> None:
    chat = _worded({})
    reply = chat.reply("remove the dentist")
    assert (reply.text, reply.frame.intent) == ("Removed dentist.", "remove_event")
    assert _worded({}).reply("dinner").frame.slots == {"date": "monday", "event_name": "dinner"}  # tagged: as read


def test_row_5_another_skill_is_served_and_the_pending_question_follows(chat) -> None:
    chat.say("alarm")
    assert _move(chat, "weather in paris") is Move.digress
    reply = chat.reply("weather in paris")
    assert reply.text == "Weather in paris. Back to your alarm request: For what time?"
    assert reply.skill == "weather" and reply.frame.slots == {"place": "paris"}
    assert chat.say("7 am") == "Alarm set for 7 am."


def test_row_5_a_digression_that_asks_a_slot_sets_the_pending_request_aside(chat) -> None:
    chat.say("alarm")
    assert chat.say("calendar") == "What should I add?"
    assert chat.state.suspended.intent == "set_alarm" and chat.state.active_skill == "calendar"
    assert chat.say("lunch") == "Added lunch. Back to your alarm request: For what time?"
    assert chat.say("7 am") == "Alarm set for 7 am."


def test_row_5_needs_switch_confidence(chat) -> None:
    chat.say("alarm")
    assert _move(chat, "maybe") is Move.not_understood  # the router names weather at 0.5
    lenient = Chat(switch_confidence=0.5)
    lenient.say("alarm")
    assert _move(lenient, "maybe") is Move.digress


def test_row_5b_a_follow_up_of_the_digression_while_a_question_waits(chat) -> None:
    """"and in oslo" right after a weather digression changes that forecast; the alarm still waits."""
    chat.say("alarm")
    assert chat.say("weather in paris tomorrow") == "Weather in paris tomorrow. Back to your alarm request: For what time?"
    assert chat.understanding.route("and in oslo", ()).confidence < 0.8  # the router is unsure of it alone
    assert _move(chat, "and in oslo") is Move.follow_up
    reply = chat.reply("and in oslo")
    assert reply.text == ("Updated your last request (place: paris → oslo). Weather in oslo tomorrow. "
                          "Back to your alarm request: For what time?")
    assert (reply.skill, reply.frame.slots) == ("weather", {"place": "oslo", "date": "tomorrow"})
    assert chat.say("7 am") == "Alarm set for 7 am."


def test_row_5b_a_turn_for_the_pending_skill_never_changes_its_last_request() -> None:
    """"7 am" while a second alarm waits for its time, read below answer_confidence: not an answer
    (row 4), and not a follow-up moving the first alarm either: that is the pending skill's to read."""
    chat = Chat(answer_confidence=0.95)  # the alarm skill reads "7 am" at 0.9
    chat.say("alarm at 6 am")
    chat.say("alarm")  # a second alarm: its question waits; the last request is the 6 am alarm
    assert chat.manager.store.load("c").last_request.slots == {"time": "6 am"}
    assert _move(chat, "7 am") is Move.not_understood
    assert chat.say("alarm at 8 am") == "Alarm set for 8 am."


@pytest.mark.parametrize("text", ["what's the capital of france", "maybe"])
def test_row_6_out_of_scope_or_unsure_gets_the_fallback_and_the_question_again(chat, text) -> None:
    chat.say("alarm")
    reply = chat.reply(text)
    assert reply.text == "Sorry, I can't help with that yet. For what time?" and reply.skill is None
    assert chat.state.waiting_for == "time"


def test_a_request_left_for_more_than_max_reasks_turns_is_dropped(chat) -> None:
    """A question the user walks away from is not appended to every reply from then on."""
    chat.say("alarm")
    assert chat.say("weather in paris") == "Weather in paris. Back to your alarm request: For what time?"
    assert chat.say("maybe") == "Sorry, I can't help with that yet. For what time?"
    assert chat.say("⏰") == "I can't read emoji or symbols on their own; could you say it in words? For what time?"
    assert chat.say("weather in rome") == "Weather in rome. (I've dropped your alarm request; ask again any time.)"
    state = chat.state
    assert (state.active_skill, state.waiting_for, state.suspended, state.reasked) == (None, None, None, 0)
    assert chat.say("weather in oslo") == "Weather in oslo."


def test_a_turn_for_the_waiting_skill_starts_the_count_again(chat) -> None:
    chat.say("alarm")
    chat.say("weather in paris")
    chat.say("maybe")
    chat.say("weather in oslo")
    assert chat.state.reasked == 3
    assert chat.say("alarm") == "For what time?"  # the user is back on it
    assert chat.state.reasked == 0
    assert chat.say("weather in rome") == "Weather in rome. Back to your alarm request: For what time?"
    assert chat.say("7 am") == "Alarm set for 7 am."


def test_a_suspended_request_keeps_its_count_and_max_reasks_0_drops_at_once() -> None:
    chat = Chat(max_reasks=1, dropped_reply="[dropped {skill}]")
    chat.say("alarm")
    assert chat.say("maybe") == "Sorry, I can't help with that yet. For what time?"
    assert chat.say("calendar") == "What should I add?"  # the alarm request set aside, its count kept
    assert chat.say("lunch") == "Added lunch. [dropped alarm]"
    eager = Chat(max_reasks=0)
    eager.say("alarm")
    assert eager.say("maybe") == "Sorry, I can't help with that yet. (I've dropped your alarm request; ask again any time.)"


# --- rows 7-10: nothing pending -------------------------------------------------------------

def test_row_7_unreadable_with_nothing_pending(chat) -> None:
    reply = chat.reply("какая погода")
    assert reply.text == "Sorry, I can only read English for now. Could you say that in English?"
    assert reply.skill is None and not chat.understanding.calls


def test_row_8_a_turn_of_only_slots_follows_up_the_last_request(chat) -> None:
    chat.say("weather in paris")
    assert _move(chat, "and tomorrow?") is Move.follow_up
    reply = chat.reply("and tomorrow?")
    assert reply.text == "Updated your last request (date: tomorrow). Weather in paris tomorrow."
    assert reply.skill == "weather" and reply.frame.slots == {"place": "paris", "date": "tomorrow"}
    assert chat.say("what about in oslo") == ("Updated your last request (place: paris → oslo). "
                                              "Weather in oslo tomorrow.")


def test_row_8_a_follow_up_counts_only_within_follow_up_turns() -> None:
    chat = Chat(follow_up_turns=1)
    chat.say("weather in paris")
    chat.say("what's the capital of france")
    assert _move(chat, "and tomorrow") is Move.start  # two turns after: a new request
    assert chat.say("and tomorrow") == "Weather in tomorrow."  # not "in paris": nothing carried over
    assert _move(Chat(follow_up_turns=0), "and tomorrow") is Move.start


def test_row_8_a_follow_up_needs_answer_confidence() -> None:
    """"hmm" after a song, read as an artist at 0.40, is no follow-up (it was: 'Updated your last request')."""
    strict, lenient = Chat(answer_confidence=0.7), Chat(answer_confidence=0.6)  # "and tomorrow" is read at 0.6
    for chat in (strict, lenient):
        chat.say("weather in paris")
    assert _move(strict, "and tomorrow") is Move.start
    assert _move(lenient, "and tomorrow") is Move.follow_up


def test_row_8_a_turn_with_a_request_of_its_own_is_no_follow_up(chat) -> None:
    chat.say("weather in paris tomorrow")
    assert _move(chat, "weather in oslo") is Move.start
    assert chat.say("weather in oslo") == "Weather in oslo."  # the date was not carried over


MISREAD = Rule(rf"^(no|at|scratch that),? {TIME}$", "alarm", "list_alarms", confidence=0.8)  # no intent words


def test_row_8_a_correction_follows_up_whatever_intent_is_read(chat) -> None:
    """"no, 8 am" after "set an alarm for 7:30 am": the shipped alarm table read it as alarm_remove,
    so the follow-up rule (same intent) let it through to a new request: "You have no alarm at 8 am"."""
    _routed(chat, {}, extra=(MISREAD,))
    chat.say("alarm at 7 am")
    assert chat.understanding.read("alarm", "no, 8 am", ()).intent == "list_alarms"
    assert _move(chat, "no, 8 am") is Move.follow_up
    reply = chat.reply("no, 8 am")
    assert reply.text == "Updated your last request (time: 7 am → 8 am). Alarm set for 8 am."
    assert (reply.frame.intent, chat.state.last_request.intent) == ("set_alarm", "set_alarm")
    assert chat.state.last_request.slots == {"time": "8 am"}


def test_row_8_without_a_cue_another_intent_read_is_no_follow_up(chat) -> None:
    """"at 8 am" read as list_alarms has only fillers and a value, but no cue: the intent read
    decides (as "what's on friday" after a calendar removal is a query), so it is a new request."""
    _routed(chat, {}, extra=(MISREAD,))
    chat.say("alarm at 7 am")
    assert _move(chat, "at 8 am") is Move.start
    assert chat.say("at 8 am") == "Here are your alarms."
    assert chat.state.last_request.intent == "list_alarms"


def test_row_8_correction_words_are_a_setting_and_count_as_fillers() -> None:
    off, own = Chat(correction_words=()), Chat(correction_words=("scratch that",))
    for chat in (off, own):
        _routed(chat, {}, extra=(MISREAD,))
        chat.say("alarm at 7 am")
    assert _move(off, "no, 8 am") is Move.start
    assert "scratch" not in own.manager.policy.filler_words
    assert _move(own, "scratch that, 8 am") is Move.follow_up
    assert _move(own, "no, 8 am") is Move.start  # "no" is no longer a cue


def test_row_9_the_router_picks_a_skill(chat) -> None:
    assert _move(chat, "alarm") is Move.start
    assert chat.say("alarm at 6 am") == "Alarm set for 6 am."


def test_row_10_out_of_scope_with_nothing_pending(chat) -> None:
    assert _move(chat, "sing a song") is Move.fallback
    reply = chat.reply("sing a song")
    assert (reply.text, reply.skill) == ("Sorry, I can't help with that yet. I can help with alarm, calendar and "
                                         "weather.", None)  # what the bot can do, from its skills


def test_the_settings_texts_are_used() -> None:
    chat = Chat(resume_reply="(still {skill}) {question}", follow_up_reply="[{changes}] {reply}")
    chat.say("alarm")
    assert chat.say("weather in rome") == "Weather in rome. (still alarm) For what time?"
    chat.say("cancel")
    chat.say("weather in rome")
    assert chat.say("and today") == "[date: today] Weather in rome today."


def test_the_rule_tables_are_the_docstring_tables_in_order() -> None:
    assert [move for move, _ in PENDING_RULES] == [Move.unreadable, Move.cancel, Move.cancel_then, Move.keep,
                                                   Move.keep, Move.keep, Move.keep, Move.digress, Move.follow_up, Move.not_understood]
    assert [move for move, _ in IDLE_RULES] == [Move.unreadable, Move.cancel_then, Move.fallback, Move.follow_up,
                                                Move.start, Move.fallback]
