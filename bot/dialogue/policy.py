"""The digression policy: which reading of a turn wins. Every turn is routed; the first row that
holds decides. P is the skill whose question is pending, S another skill.

| #  | the turn                                                    | move           | the bot         |
|----|-------------------------------------------------------------|----------------|-----------------|
| 1  | cannot be read (a)                                          | unreadable     | says so; P's question again |
| 2  | is a cancel phrase, but for fillers and P's name (g)        | cancel         | drops P's request (b) |
| 2b | opens with such a cancel clause and goes on (l)             | cancel_then    | drops P's request (b); the rest is a turn of its own |
| 3  | is routed to P                                              | keep           | P's reading applies (c, k) |
| 4  | router not sure of an S nor of out of scope; P reads the asked slot or only slot values (d) | keep | P's reading applies |
| 4b | router not sure of an S; only slot values of P's pending intent (h, i) or the asked slot's words (k), out of scope or not | keep | P's reading applies |
| 4c | a correction (i) of only slot values of P's pending intent, no S request to follow up (j) | keep | P's reading applies |
| 5  | router sure of an S (>= switch_confidence)                  | digress        | S serves it; P's question again (e) |
| 5b | only slot values of the intent of S's last request (f, i)   | follow_up      | that request, changed; P's question again (e) |
| 6  | anything else (out of scope, unsure router)                 | not_understood | fallback; P's question again |

With nothing pending:

| #  | the turn                                                    | move           | the bot         |
|----|-------------------------------------------------------------|----------------|-----------------|
| 7  | cannot be read (a)                                          | unreadable     | says so         |
| 7b | opens with a cancel clause and goes on (l)                  | cancel_then    | the rest is a turn of its own |
| 7c | only filler words, no question word ("thx", "ok great"), router not sure of a skill | fallback | the fallback reply |
| 8  | only slot values of the last request's intent (f, i)        | follow_up      | that request, changed; says what changed |
| 9  | is routed to a skill                                        | start          | that skill reads and answers |
| 10 | is out of scope                                             | fallback       | the fallback reply |

(a) empty, emoji or symbols only, or under `min_latin_share` Latin letters (readable.py).
(b) a request suspended by row 5 becomes pending again.
(c) fills or changes slots; a sure reading (>= switch_confidence) of another of P's intents, in a
    turn that is not only slot values, starts that intent instead ("which alarms do i have").
(d) P's reading at `answer_confidence` or more, of the pending intent when it fills the asked slot;
    "only slot values": carry_over.only_slots.
(e) at once if S's request completes; if S asks a slot, P waits suspended until S is done.
    "P's question again" (rows 1, 5, 6) happens after at most `max_reasks` turns in a row that went
    elsewhere; the next such turn drops P's request and says so (`dropped_reply`).
(f) completed at most `follow_up_turns` turns ago, read at `answer_confidence` or more by its skill,
    as that intent (i); only the slots of that intent are kept. "what's on friday" after a calendar
    removal is read as calendar_query: a query, not a follow-up removing friday's events.
(g) "never mind", "no, cancel that alarm" (filler words, P's skill name, "request"); not "cancel my 6 am alarm".
(h) P's reading of the pending intent at `answer_confidence` or more, and the turn nothing but its
    slot values and filler words (carry_over.only_slots): an answer or a change of mind ("quarter past
    six", "actually make it tuesday"), which the router, trained on whole requests, often calls out
    of scope. Only a router sure of another skill outweighs it. A reading of another of P's intents
    is not enough here without a correction cue (i) ("ok thanks" read as calendar_remove with
    event_name=thanks), nor a turn with words of its own ("what's the capital of france" read with
    time=france): a sure out of scope wins.
(i) A turn with a correction cue (`correction_words`: "no", "actually", "make it", "i meant", ...;
    their words count as filler words) counts as of the intent it corrects (the pending one in 4b
    and 4c, the last request's in 5b and 8) whatever intent the skill reads: it has no intent words to read.
    "no, 8 am" right after "set an alarm for 7:30 am", read as alarm_remove time=8 am, moves the
    alarm ("You have no alarm at 8 am" before). Without a cue the intent read must match. A request
    that got "no such alarm" is still the last request: the next correction changes what the bot
    just answered ("remove the 8 am alarm" -> none -> "no, 7:30"). A turn with a question word too
    (`question_words`) is no correction: "actually, what's on friday" after a removal asks, and the
    intent read decides (as a correction it would remove friday's events). `correction_words: []`
    turns the cue off.
(j) Row 4b's case with the router sure of an S: "no, make that saturday" while an alarm for tomorrow
    waits for its time (the alarm skill read date=saturday at 0.83, the shipped router calendar at
    0.89: the calendar read calendar_remove date=saturday, which removes saturday's events). Not
    while the turn can follow up S's request just served (row 5b): "no, in oslo" after a weather
    digression is the weather's.
(k) The asked slot is `from_answer` (free text: calendar_set's event_name) and P's reading of the
    pending intent has no value of it ("team standup", read as calendar_query event_name=standup at 0.46):
    the turn's own words, less fillers at its ends, are the value ("lunch with sam" for "What should
    I put in your calendar?", tagged meal_type and person only; "football practice", read as
    calendar_query at 0.84), and the slots P read of the pending intent are kept. The shipped router
    is sure "call mom", "buy milk" and "team standup" are out of scope (0.99-1.00), as it is of
    "thanks": no model here tells an event from small talk, so a sure out of scope does not outweigh
    the answer; a turn of only filler words ("ok thanks", "hi": greetings and thanks are fillers)
    fills nothing. Not a question (`question_words`: "what's on friday"), nor a turn routed to P and
    read surely (`switch_confidence`) as another of its intents with slot values ("remove the
    dentist appointment"), nor one with a new value for a slot the request has ("actually make it
    tuesday", "remind me tomorrow" on monday's request: a change of mind), nor a turn the router is
    sure is another skill's (row 5).

(l) "never mind, what's the weather in berlin", "forget it play some jazz": the clause ends at a
    comma, full stop or dash, or right after a phrase of two words or more (tracking.after_cancel).
    The rest is decided by these tables anew (read alone, without the cancel clause), after the
    request is dropped; the reply is the cancel reply and the rest's. Before, the weather was
    served and the dropped alarm's question asked again. With nothing pending (7b) there is
    nothing to drop and the reply is the rest's: "wait, never mind. remove the dentist appointment"
    was routed whole, out of scope.

Thresholds are `DialogueSettings` (bot/config/dialogue.py). Model calls are lazy and made at most
once per skill per turn: rows 2 and 2b cost none (2b's rest is then decided as a turn of its own),
rows 3-6 one route and one read, row 7c one route. At the turn's first
model call, the reads it needs whatever the route says go to the model together (one forward
batch, if the understanding is `Submitting`): the route and the pending skill's reading (rows 3-6),
or the route and the last request's reading while a follow-up is possible (rows 8-9).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from bot.config import SkillConfig
from bot.config.dialogue import DialogueSettings
from bot.dialogue.carry_over import asks_nothing, only_slots, says_any, without_edge_fillers
from bot.dialogue.lazy import cached_property
from bot.dialogue.readable import unreadable
from bot.dialogue.tracking import after_cancel, is_cancel, valid_frame
from bot.dialogue.understanding import Answer, Submitting, Understanding
from bot.types import ConversationState, Frame, HistoryEntry, Route

__all__ = ["IDLE_RULES", "PENDING_RULES", "Move", "Situation", "decide"]


class Move(str, Enum):
    unreadable = "unreadable"
    cancel = "cancel"
    cancel_then = "cancel_then"
    keep = "keep"
    digress = "digress"
    not_understood = "not_understood"
    follow_up = "follow_up"
    start = "start"
    fallback = "fallback"


@dataclass
class Situation:
    """One turn and what the policy may ask about it; each model answer is asked for once."""

    text: str
    state: ConversationState
    history: Sequence[HistoryEntry]
    skills: Mapping[str, SkillConfig]
    understanding: Understanding
    settings: DialogueSettings
    cancel_words: Sequence[str]
    pending: SkillConfig | None = None
    _reads: dict[str, Frame | None] = field(default_factory=dict)
    _asked: bool = False  # the reads asked for together (`_ask_together`) are in the two below
    _route_answer: Answer[Route] | None = None
    _read_answers: dict[str, Answer[Frame]] = field(default_factory=dict)

    def rest(self, text: str, pending: SkillConfig | None) -> Situation:
        """The situation of the turn's rest as a turn of its own (rows 2b, 7b), nothing read of it yet."""
        return Situation(text=text, state=self.state, history=self.history, skills=self.skills,
                         understanding=self.understanding, settings=self.settings,
                         cancel_words=self.cancel_words, pending=pending)

    @cached_property
    def after_cancel(self) -> str | None:
        """The words after an opening cancel clause (l), if the turn goes on past it."""
        return after_cancel(self.text, self.cancel_words, self.cancel_also())

    @cached_property
    def asks_nothing(self) -> bool:
        """Only filler words and no question word: "thx", "hmm", "ok great" (not "what's on?")."""
        return asks_nothing(self.text, self.settings.fillers, self.settings.question_words)

    @cached_property
    def unreadable(self) -> str | None:
        return unreadable(self.text, min_latin_share=self.settings.min_latin_share)

    @cached_property
    def route(self) -> Route:
        self._ask_together()
        if self._route_answer is not None:
            return self._route_answer.result()
        return self.understanding.route(self.text, self.history)

    def read(self, skill: str) -> Frame | None:
        """The skill's valid reading of the turn (None: none of its intents), read once per turn."""
        if skill not in self._reads:
            self._ask_together()
            answer = self._read_answers.pop(skill, None)
            frame = answer.result() if answer else self.understanding.read(skill, self.text, self.history)
            self._reads[skill] = valid_frame(frame, self.skills[skill])
        return self._reads[skill]

    def _ask_together(self) -> None:
        """Once, at the turn's first model call (the rows before need none): submit the route and
        the one reading the rows ask for whatever it says (the pending skill's, or the last
        request's while a follow-up is possible), so both are read in one forward batch, not one
        after the other. Nothing more: the routed skill's reading waits for the route."""
        if self._asked:
            return
        self._asked = True
        skill = self.pending.name if self.pending else self._follow_up_skill()
        if skill is None or not isinstance(self.understanding, Submitting):
            return
        try:  # a failed submit (a bot without a router table): asked one at a time, failing as before
            self._route_answer = self.understanding.submit_route(self.text, self.history)
            self._read_answers[skill] = self.understanding.submit_read(skill, self.text, self.history)
        except Exception:
            return

    def cancel_also(self) -> tuple[str, ...]:
        """Words a cancel phrase may come with: fillers and the pending request's own name (with
        nothing pending, every skill's: "forget it, the alarm" asks for no alarm)."""
        names = [self.pending.name] if self.pending else list(self.skills)
        forms = [form for name in names for form in (name, name.removesuffix("s"), name + "s")]
        return (*self.settings.fillers, *forms, "request")

    def router_sure_of_other(self) -> bool:
        """The router names a skill other than the pending one, with `switch_confidence` or more."""
        route, pending = self.route, self.pending.name if self.pending else None
        return (route.skill not in (None, pending) and route.skill in self.skills
                and route.confidence >= self.settings.switch_confidence)

    def router_sure_elsewhere(self) -> bool:
        """The router is sure the turn is for another skill, or sure it is out of scope (a
        Route(None) at `switch_confidence` or more: the out-of-scope reading, not a weak skill)."""
        route = self.route
        sure_out = route.skill is None and route.confidence >= self.settings.switch_confidence
        return sure_out or self.router_sure_of_other()

    def answers_pending(self) -> bool:
        """The pending skill's reading of the pending intent fills the asked slot, or the turn is only
        slot values. A reading of another of its intents is no answer: "what's the weather in paris"
        read as alarm_query with time=paris must not list the alarms while one is being set."""
        reading = self._pending_reading()
        if reading is None:
            return False
        fills_asked = reading.intent == self.state.active_intent and self.state.waiting_for in reading.slots
        return fills_asked or only_slots(self.text, reading.slots, self.settings.fillers)

    @cached_property
    def worded_answer(self) -> Frame | None:
        """The turn as the value of the asked slot, if that slot takes the answer's words
        (`from_answer`) and the pending skill tags none in it: footnote (k)."""
        asked, intent = self.state.waiting_for, self.state.active_intent
        if (self.pending is None or not asked or not intent or says_any(self.text, self.settings.question_words)
                or asked not in {slot.name for slot in self.pending.slots if slot.from_answer}):
            return None
        reading = self.read(self.pending.name)
        if reading is not None and ((reading.intent == intent and asked in reading.slots)
                                    or self._another_request(reading) or self._changes_given_slot(reading)):
            return None  # an answer the tagger read, a request of its own ("remove the dentist"), a change of mind
        value = without_edge_fillers(self.text, self.settings.fillers)
        # the intent read is a guess on an answer ("dinner with mom on saturday": calendar_query at
        # 0.51); the slots it tagged that the pending intent carries are kept
        allowed = set(self.pending.intent_slots.get(intent, ()))
        kept = {name: v for name, v in reading.slots.items() if name in allowed} if reading is not None else {}
        confidence = reading.confidence if reading is not None else 0.0
        return Frame(intent=intent, slots={**kept, asked: value}, confidence=confidence) if value else None

    def _another_request(self, reading: Frame) -> bool:
        """Router and pending skill agree the turn is another of its requests, with slots of its own
        ("remove the dentist appointment"), the skill sure of it (`switch_confidence`: "dinner with
        mom on saturday" was read as calendar_query at 0.51); the skill's intent alone is no evidence
        on a fragment ("hmm, lunch with sam at the pier" was read as calendar_query at 0.89, routed
        out of scope)."""
        return bool(reading.intent != self.state.active_intent and reading.slots
                    and reading.confidence >= self.settings.switch_confidence
                    and self.pending is not None and self.route.skill == self.pending.name)

    def _changes_given_slot(self, reading: Frame) -> bool:
        """A new value for a slot the request has: a change of mind ("actually make it tuesday", "remind
        me tomorrow" for a request on monday), not the asked slot's words."""
        return any(self.state.slots.get(name) not in (None, value) for name, value in reading.slots.items())

    def only_slots_of_pending(self) -> bool:
        """The turn is only slot values of the pending intent, as the pending skill reads it (h), or the
        asked slot's own words (k): an answer or a correction, whatever the router says short of another skill."""
        if self.worded_answer is not None:  # the asked slot's own words (k)
            return True
        reading = self._pending_reading()
        return (reading is not None and self._of_intent(reading, self.state.active_intent or "")
                and only_slots(self.text, reading.slots, self.settings.fillers))

    @cached_property
    def corrects(self) -> bool:
        """The turn carries a correction cue ("no, 8 am", "actually make it 8:15") and asks nothing
        ("actually, what's on friday" is a question): footnote (i)."""
        return (says_any(self.text, self.settings.correction_words)
                and not says_any(self.text, self.settings.question_words))

    def _of_intent(self, reading: Frame, intent: str) -> bool:
        """The reading counts as one of `intent`: it is, or the turn is a correction (i), whose intent
        read is a guess (it has no intent words: "no, 8 am" was read as alarm_remove)."""
        return reading.intent == intent or self.corrects

    def _pending_reading(self) -> Frame | None:
        """The pending skill's reading of the turn, if at `answer_confidence` or more."""
        reading = self.read(self.pending.name) if self.pending else None
        return reading if reading is not None and reading.confidence >= self.settings.answer_confidence else None

    def follow_up_of_other(self) -> bool:
        """The last completed request is not of the pending skill (a digression just served): a
        follow-up of the pending skill's own request is its reading, rows 3-4."""
        last = self.state.last_request
        return last is not None and (self.pending is None or last.skill != self.pending.name)

    def follows_up_other(self) -> bool:
        """The turn changes the last completed request, one not of the pending skill (row 5b)."""
        return self.follow_up_of_other() and self.follow_up is not None

    def _follow_up_skill(self) -> str | None:
        """The last completed request's skill, if the turn may still be a follow-up of it (f)."""
        last = self.state.last_request
        if (last is None or last.skill not in self.skills or self.settings.follow_up_turns < 1
                or self.state.turns - last.turn > self.settings.follow_up_turns):
            return None
        return last.skill

    @cached_property
    def follow_up(self) -> Frame | None:
        """The reading that changes the last completed request, if the turn is only its slots."""
        last = self.state.last_request
        if last is None or self._follow_up_skill() is None:
            return None
        reading = self.read(last.skill)
        if reading is None or reading.confidence < self.settings.answer_confidence:  # "hmm" as a song at 0.40
            return None
        if not self._of_intent(reading, last.intent):  # "what's on friday" after a removal: a query
            return None
        allowed = set(self.skills[last.skill].intent_slots.get(last.intent, ()))
        slots = {k: v for k, v in reading.slots.items() if k in allowed}
        return reading.model_copy(update={"intent": last.intent, "slots": slots}) if only_slots(
            self.text, slots, self.settings.fillers) else None


Rule = tuple[Move, Callable[[Situation], object]]

PENDING_RULES: tuple[Rule, ...] = (
    (Move.unreadable, lambda s: s.unreadable),
    (Move.cancel, lambda s: is_cancel(s.text, s.cancel_words, s.cancel_also())),
    (Move.cancel_then, lambda s: s.after_cancel is not None),
    (Move.keep, lambda s: s.pending is not None and s.route.skill == s.pending.name),
    (Move.keep, lambda s: not s.router_sure_elsewhere() and s.answers_pending()),
    (Move.keep, lambda s: not s.router_sure_of_other() and s.only_slots_of_pending()),  # row 4b
    (Move.keep, lambda s: s.corrects and s.only_slots_of_pending() and not s.follows_up_other()),  # 4c
    (Move.digress, lambda s: s.router_sure_of_other()),
    (Move.follow_up, lambda s: s.follows_up_other()),  # "and in london?"
    (Move.not_understood, lambda s: True),
)

IDLE_RULES: tuple[Rule, ...] = (
    (Move.unreadable, lambda s: s.unreadable),
    (Move.cancel_then, lambda s: s.after_cancel is not None),
    (Move.fallback, lambda s: s.asks_nothing and not s.router_sure_of_other()),  # "thx" (alarm, 0.52) removed an alarm
    (Move.follow_up, lambda s: s.follow_up is not None),
    (Move.start, lambda s: s.route.skill is not None),
    (Move.fallback, lambda s: True),
)


def decide(situation: Situation) -> Move:
    """The move of the first row of the policy table that holds for this turn."""
    rules = PENDING_RULES if situation.pending is not None else IDLE_RULES
    return next(move for move, holds in rules if holds(situation))
