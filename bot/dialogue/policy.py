"""The digression policy: which reading of a turn wins. Every turn is routed; first row that holds wins.

While a question is pending (the bot asked for a slot of skill P):

| # | the turn                                                                 | move             |
|---|--------------------------------------------------------------------------|------------------|
| 1 | cannot be read (empty, emoji/symbols only, mostly non-Latin script)      | `unreadable`: say so, ask P's question again |
| 2 | is a cancel phrase as a whole ("never mind")                             | `cancel`: drop P's request (a suspended one resumes) |
| 3 | the router picks P                                                       | `keep`: P's reading fills or changes slots, or starts another of P's intents |
| 4 | the router is not sure of another skill, and P's reading (confidence >= `answer_confidence`) fills the asked slot or says only slot values | `keep` (an answer or a correction) |
| 5 | the router is sure (>= `switch_confidence`) of another skill S           | `digress`: S serves the turn, then P's question is asked again; if S asks a slot itself, P waits suspended until S is done |
| 6 | anything else (out of scope, an unsure router)                           | `not_understood`: the fallback reply, then P's question again |

With nothing pending:

| # | the turn                                                                 | move             |
|---|--------------------------------------------------------------------------|------------------|
| 7 | cannot be read                                                           | `unreadable`     |
| 8 | says only slot values (read as the same intent) of the request completed at most `follow_up_turns` turns ago | `follow_up`: that request again with the new values; the reply says what changed |
| 9 | the router picks a skill                                                 | `start`: that skill reads and answers |
|10 | the router finds no skill (out of scope)                                 | `fallback`       |

The thresholds are `DialogueSettings` (bot/config/dialogue.py). Model calls are made lazily and
at most once per skill per turn, so row 2 costs none and rows 3-6 one route and one read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from bot.config import SkillConfig
from bot.config.dialogue import DialogueSettings
from bot.dialogue.carry_over import only_slots
from bot.dialogue.readable import unreadable
from bot.dialogue.tracking import is_cancel, valid_frame
from bot.dialogue.understanding import Understanding
from bot.types import ConversationState, Frame, HistoryEntry, Route

__all__ = ["IDLE_RULES", "PENDING_RULES", "Move", "Situation", "decide"]


class Move(str, Enum):
    unreadable = "unreadable"
    cancel = "cancel"
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

    @cached_property
    def unreadable(self) -> str | None:
        return unreadable(self.text, min_latin_share=self.settings.min_latin_share)

    @cached_property
    def route(self) -> Route:
        return self.understanding.route(self.text, self.history)

    def read(self, skill: str) -> Frame | None:
        """The skill's valid reading of the turn (None: none of its intents), read once per turn."""
        if skill not in self._reads:
            frame = self.understanding.read(skill, self.text, self.history)
            self._reads[skill] = valid_frame(frame, self.skills[skill])
        return self._reads[skill]

    def router_sure_of_other(self) -> bool:
        """The router names a skill other than the pending one, with `switch_confidence` or more."""
        route, pending = self.route, self.pending.name if self.pending else None
        return (route.skill not in (None, pending) and route.skill in self.skills
                and route.confidence >= self.settings.switch_confidence)

    def answers_pending(self) -> bool:
        """The pending skill's reading fills the asked slot, or the turn is only slot values."""
        reading = self.read(self.pending.name) if self.pending else None
        if reading is None or reading.confidence < self.settings.answer_confidence:
            return False
        return (self.state.waiting_for in reading.slots
                or only_slots(self.text, reading.slots, self.settings.filler_words))

    @cached_property
    def follow_up(self) -> Frame | None:
        """The reading that changes the last completed request, if the turn is only its slots."""
        last = self.state.last_request
        if (last is None or last.skill not in self.skills or self.settings.follow_up_turns < 1
                or self.state.turns - last.turn > self.settings.follow_up_turns):
            return None
        reading = self.read(last.skill)
        if reading is None or reading.intent != last.intent:  # "what's on friday" after a removal
            return None
        allowed = set(self.skills[last.skill].intent_slots.get(last.intent, ()))
        slots = {k: v for k, v in reading.slots.items() if k in allowed}
        return reading.model_copy(update={"slots": slots}) if only_slots(
            self.text, slots, self.settings.filler_words) else None


Rule = tuple[Move, Callable[[Situation], object]]

PENDING_RULES: tuple[Rule, ...] = (
    (Move.unreadable, lambda s: s.unreadable),
    (Move.cancel, lambda s: is_cancel(s.text, s.cancel_words)),
    (Move.keep, lambda s: s.pending is not None and s.route.skill == s.pending.name),
    (Move.keep, lambda s: not s.router_sure_of_other() and s.answers_pending()),
    (Move.digress, lambda s: s.router_sure_of_other()),
    (Move.not_understood, lambda s: True),
)

IDLE_RULES: tuple[Rule, ...] = (
    (Move.unreadable, lambda s: s.unreadable),
    (Move.follow_up, lambda s: s.follow_up is not None),
    (Move.start, lambda s: s.route.skill is not None),
    (Move.fallback, lambda s: True),
)


def decide(situation: Situation) -> Move:
    """The move of the first row of the policy table that holds for this turn."""
    rules = PENDING_RULES if situation.pending is not None else IDLE_RULES
    return next(move for move, holds in rules if holds(situation))
