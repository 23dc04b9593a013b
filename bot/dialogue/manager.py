"""The dialogue manager: one turn in, one reply out, whatever channel the turn came from.

Which skill answers a turn ("sure" means confidence >= `switch_confidence`):
- Nothing pending: the router's skill reads the turn; no skill (out of scope) gets `fallback_reply`.
- Waiting for a slot: a cancel phrase (the whole turn) drops the request. Otherwise the waiting
  skill reads the turn first. If that reading is not sure, the router is asked too, and another
  skill it is sure of takes over (a new request). Else the reading applies: another intent of
  the waiting skill read surely starts afresh; slots it read fill the pending request or
  override earlier values ("make it 8 pm"); a reading with no slots asks the question again.
The router is thus asked only when the waiting skill is unsure, which saves a model call per answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import SkillConfig
from bot.dialogue.responses import ResponseContext, Responses
from bot.dialogue.tracking import begin, clear_pending, is_cancel, missing_slot, record, valid_frame
from bot.dialogue.understanding import Route, Understanding
from bot.store import ConversationStore, StoreError, StoreLockTimeout
from bot.types import ConversationState, Frame, HistoryEntry, Reply, Turn

__all__ = ["BUSY_REPLY", "CANCELLED_REPLY", "DEDUP_SECONDS", "ERROR_REPLY", "FALLBACK_REPLY",
           "DialogueManager"]

log = logging.getLogger("bot.dialogue")

DEDUP_SECONDS = 3600  # how long a turn id is remembered across workers
FALLBACK_REPLY = "Sorry, I can't help with that yet."
BUSY_REPLY = "I'm still working on your last message; please try again in a moment."
ERROR_REPLY = "Sorry, something went wrong on my side. Please try again."
CANCELLED_REPLY = "Okay, cancelled."


@dataclass(frozen=True)
class _Outcome:
    text: str
    skill: str | None = None
    frame: Frame | None = None
    handled: bool = True  # False: perhaps not applied; the same turn may be sent again


class DialogueManager:
    """Turns in, replies out; never raises for a store, model or action failure (it logs them)."""

    def __init__(self, skills: Mapping[str, SkillConfig], understanding: Understanding,
                 store: ConversationStore, *,
                 fallback_reply: str = FALLBACK_REPLY,
                 history_turns: int = 6,
                 cancel_words: Iterable[str] = ("cancel", "never mind", "stop", "forget it"),
                 busy_reply: str = BUSY_REPLY,
                 error_reply: str = ERROR_REPLY,
                 cancelled_reply: str = CANCELLED_REPLY,
                 switch_confidence: float = 0.8) -> None:
        _check_settings(skills, history_turns, switch_confidence)
        self.skills = dict(skills)
        self.understanding, self.store = understanding, store
        self.responses = Responses(self.skills, understanding)  # imports actions: fails here, not later
        self.fallback_reply, self.busy_reply, self.error_reply = fallback_reply, busy_reply, error_reply
        self.cancelled_reply, self.cancel_words = cancelled_reply, tuple(cancel_words)
        self.history_turns, self.switch_confidence = history_turns, switch_confidence

    def handle(self, turn: Turn) -> Reply:
        """Answer one turn, saving what it changed; a failure becomes a safe reply and a log entry."""
        started = time.perf_counter()
        outcome = self._guarded(turn)
        return Reply(conversation_id=turn.conversation_id, text=outcome.text, skill=outcome.skill,
                     frame=outcome.frame, seconds=time.perf_counter() - started, handled=outcome.handled)

    def _guarded(self, turn: Turn) -> _Outcome:
        """The turn's outcome; a failure outside the turn's own work is marked not handled, so an
        adapter can ask for a retry (which the turn id makes safe) instead of passing it off as an answer."""
        try:
            return self._locked(turn)
        except StoreLockTimeout as err:
            log.warning("%s", err)
            return _Outcome(self.busy_reply, handled=False)
        except StoreError as err:  # unreachable store, lost lock, unreadable state: the log has the fix
            log.error("conversation %r: turn not handled: %s", turn.conversation_id, err)
            return _Outcome(self.error_reply, handled=False)
        except Exception:
            log.exception("conversation %r: turn not handled", turn.conversation_id)
            return _Outcome(self.error_reply, handled=False)

    def _locked(self, turn: Turn) -> _Outcome:
        turn_id = turn.turn_id or None  # "" is no id
        redelivered = turn_id is not None and self.store.seen(f"turn:{turn_id}", DEDUP_SECONDS)
        with self.store.lock(turn.conversation_id):
            state = self.store.load(turn.conversation_id)
            if turn_id is not None and turn_id in state.replies:
                log.info("conversation %r: turn %r delivered again; repeating its reply",
                         turn.conversation_id, turn_id)
                return _Outcome(state.replies[turn_id])
            if redelivered:  # its first delivery died before saving (e.g. a killed worker)
                log.warning("conversation %r: turn %r was delivered before but never answered; "
                            "answering it now", turn.conversation_id, turn_id)
            state, outcome = self._turn(state, turn.text)
            record(state, turn.text, outcome.text, turn_id=turn_id, keep=self.history_turns * 2)
            self.store.save(state)
            return outcome

    def _turn(self, state: ConversationState, text: str) -> tuple[ConversationState, _Outcome]:
        """Work on a copy, so a failing model or action leaves the state as it was before the turn."""
        work = state.model_copy(deep=True)
        try:
            return work, self._converse(work, text)
        except Exception:
            log.exception("conversation %r: could not answer turn %d; replied with an apology",
                          state.conversation_id, state.turns + 1)
            return state, _Outcome(self.error_reply)

    def _converse(self, state: ConversationState, text: str) -> _Outcome:
        history = tuple(state.history)
        skill = self._pending_skill(state)
        if skill is None:
            return self._start(state, text, history, self.understanding.route(text, history))
        if is_cancel(text, self.cancel_words):
            clear_pending(state)
            return _Outcome(self.cancelled_reply, skill.name)
        return self._continue(state, skill, text, history)

    def _continue(self, state: ConversationState, skill: SkillConfig, text: str,
                  history: Sequence[HistoryEntry]) -> _Outcome:
        """A turn of a conversation waiting for a slot (the rule is in the module docstring)."""
        frame = valid_frame(self.understanding.read(skill.name, text, history), skill)
        if frame is None or frame.confidence < self.switch_confidence:
            route = self.understanding.route(text, history)
            if self._switches(route, skill):
                return self._start(state, text, history, route)
        used = self._use_reading(state, skill, frame)
        return self._advance(state, skill, text, history, frame if used else None)

    def _pending_skill(self, state: ConversationState) -> SkillConfig | None:
        """The skill waiting for a slot, if it (and its intent) are still loaded."""
        skill = self.skills.get(state.active_skill or "")
        if state.waiting_for and skill is not None and state.active_intent in skill.intent_names:
            return skill
        clear_pending(state)  # nothing pending, or a skill since removed from the bot
        return None

    def _use_reading(self, state: ConversationState, skill: SkillConfig, frame: Frame | None) -> bool:
        """Apply a pending conversation's reading; False if it says nothing about it."""
        if frame is None:
            return False
        if frame.intent != state.active_intent and frame.confidence >= self.switch_confidence:
            begin(state, skill.name, frame)
            return True
        state.slots.update(frame.slots)  # the answer asked for, or a new value for an earlier slot
        return bool(frame.slots)

    def _switches(self, route: Route, skill: SkillConfig) -> bool:
        return route.skill not in (None, skill.name) and route.confidence >= self.switch_confidence

    def _start(self, state: ConversationState, text: str, history: Sequence[HistoryEntry],
               route: Route) -> _Outcome:
        if route.skill is None:
            clear_pending(state)
            return _Outcome(self.fallback_reply)
        skill = self.skills.get(route.skill)
        if skill is None:
            log.error("conversation %r: the router chose skill %r, which this bot has not loaded "
                      "(loaded: %s)\n  fix: add the skill to the bot, or retrain the router on the "
                      "loaded skills only", state.conversation_id, route.skill, ", ".join(self.skills))
            return _Outcome(self.error_reply)
        frame = valid_frame(self.understanding.read(skill.name, text, history), skill)
        if frame is None:
            log.warning("conversation %r: skill %r found none of its intents in the turn; "
                        "answered with the fallback", state.conversation_id, skill.name)
            clear_pending(state)
            return _Outcome(self.fallback_reply, skill.name)
        begin(state, skill.name, frame)
        return self._advance(state, skill, text, history, frame)

    def _advance(self, state: ConversationState, skill: SkillConfig, text: str,
                 history: Sequence[HistoryEntry], reading: Frame | None) -> _Outcome:
        """Ask for the next missing required slot, or answer the intent and close it."""
        intent = skill.intent(state.active_intent or "")
        frame = Frame(intent=intent.name, slots=dict(state.slots),
                      confidence=reading.confidence if reading else 0.0)
        missing = missing_slot(intent, state.slots)
        context = ResponseContext(skill, intent, frame, state, text, history, missing)
        reply = self.responses.respond(context)
        if missing:
            state.waiting_for = missing
        else:
            clear_pending(state)
        return _Outcome(reply, skill.name, frame)


def _check_settings(skills: Mapping[str, SkillConfig], history_turns: int,
                    switch_confidence: float) -> None:
    for name, skill in skills.items():
        if name != skill.name:
            raise ValueError(f"skills[{name!r}] holds skill {skill.name!r}; key each skill by its name")
    if history_turns < 1:
        raise ValueError(f"history_turns must be at least 1, got {history_turns}")
    if not 0.0 <= switch_confidence <= 1.0:
        raise ValueError(f"switch_confidence must lie in [0, 1], got {switch_confidence}")
