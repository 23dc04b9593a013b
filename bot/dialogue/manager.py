"""The dialogue manager: one turn in, one reply out, whatever channel the turn came from.

Which reading of a turn wins is the digression policy, a table in `bot/dialogue/policy.py`:
every turn is routed; a skill waiting for an answer keeps the turn only when that is the better
reading; another skill's request is served and the waiting one offered again; out of scope gets
the fallback and the waiting question again; cancel cancels; a turn of only slot values right
after a request updates that request (a follow-up). This module carries out the chosen move.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from bot.config import SkillConfig
from bot.config.dialogue import DialogueSettings
from bot.config.templates import fill_template
from bot.dialogue.actions.providers import load_providers
from bot.dialogue.carry_over import describe_changes, only_slots
from bot.dialogue.pieces import OnPiece, ReplyPieces
from bot.dialogue.policy import Move, Situation, decide
from bot.dialogue.responses import ResponseContext, Responses
from bot.dialogue.tracking import (begin, clear_pending, complete, left_behind, missing_slot, record, resume,
                                   suspend)
from bot.dialogue.understanding import Understanding
from bot.store import ConversationStore, StoreError, StoreLockTimeout
from bot.types import ConversationState, Frame, Reply, Route, Turn

__all__ = ["BUSY_REPLY", "CANCELLED_REPLY", "DEDUP_SECONDS", "ERROR_REPLY", "FALLBACK_REPLY",
           "DialogueManager", "records_owner"]

log = logging.getLogger("bot.dialogue")

DEDUP_SECONDS = 3600  # how long a turn id is remembered across workers
FALLBACK_REPLY = "Sorry, I can't help with that yet."
BUSY_REPLY = "I'm still working on your last message; please try again in a moment."
ERROR_REPLY = "Sorry, something went wrong on my side. Please try again."
CANCELLED_REPLY = "Okay, cancelled."

# The pieces of the reply of the turn this thread answers, if it is streamed (None: it is not).
_PIECES: ContextVar[ReplyPieces | None] = ContextVar("reply_pieces", default=None)


@dataclass(frozen=True)
class _Outcome:
    text: str
    skill: str | None = None
    frame: Frame | None = None
    handled: bool = True  # False: perhaps not applied; the same turn may be sent again


class DialogueManager:
    """Turns in, replies out; never raises for a store, model or action failure (it logs them).

    `store` keeps conversations and the users' records (alarms, events); `providers` are the
    outside services actions may call by name (default: built from `policy.providers`; see
    bot/dialogue/actions/providers.py).
    """

    def __init__(self, skills: Mapping[str, SkillConfig], understanding: Understanding,
                 store: ConversationStore, *,
                 fallback_reply: str = FALLBACK_REPLY,
                 history_turns: int = 6,
                 cancel_words: Iterable[str] = ("cancel", "never mind", "stop", "forget it"),
                 busy_reply: str = BUSY_REPLY,
                 error_reply: str = ERROR_REPLY,
                 cancelled_reply: str = CANCELLED_REPLY,
                 policy: DialogueSettings | None = None,
                 providers: Mapping[str, object] | None = None) -> None:
        _check_settings(skills, history_turns)
        self.skills = dict(skills)
        self.understanding, self.store = understanding, store
        self.policy = policy or DialogueSettings()
        if providers is None:  # the configured ones, built now: a bad factory stops the bot here
            providers = load_providers(self.policy.providers)
        # imports actions: fails here, not later
        self.responses = Responses(self.skills, understanding, store=store, providers=providers)
        self.fallback_reply, self.busy_reply, self.error_reply = fallback_reply, busy_reply, error_reply
        self.cancelled_reply, self.cancel_words = cancelled_reply, tuple(cancel_words)
        self.history_turns = history_turns
        self._moves: dict[Move, Callable[[Situation, Turn], _Outcome]] = {
            Move.unreadable: self._unreadable, Move.cancel: self._cancel, Move.keep: self._keep,
            Move.digress: self._digress, Move.not_understood: self._not_understood,
            Move.follow_up: self._follow_up, Move.start: self._start, Move.fallback: self._fallback,
        }

    def handle(self, turn: Turn, on_piece: OnPiece | None = None) -> Reply:
        """Answer one turn, saving what it changed; a failure becomes a safe reply and a log entry.
        `on_piece` gets the reply text in pieces: a generated reply's as the model writes it, the
        rest when the turn is done; they join to the reply's text. The turn is stored as without it."""
        started = time.perf_counter()
        pieces = ReplyPieces(on_piece) if on_piece is not None else None
        live = _PIECES.set(pieces)  # the thread's own: concurrent turns never see each other's
        try:
            outcome = self._guarded(turn)
        finally:
            _PIECES.reset(live)
        if pieces is not None:
            pieces.finish(outcome.text)
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
            state, outcome = self._turn(state, turn)
            record(state, turn.text, outcome.text, turn_id=turn_id, keep=self.history_turns * 2)
            self.store.save(state)
            return outcome

    def _turn(self, state: ConversationState, turn: Turn) -> tuple[ConversationState, _Outcome]:
        """Work on a copy, so a failing model or action leaves the state as it was before the turn."""
        work = state.model_copy(deep=True)
        try:
            return work, self._converse(work, turn)
        except StoreError:
            raise  # the user's records could not be kept: not handled, so the turn may be sent again
        except Exception:
            log.exception("conversation %r: could not answer turn %d; replied with an apology",
                          state.conversation_id, state.turns + 1)
            return state, _Outcome(self.error_reply)

    def _converse(self, state: ConversationState, turn: Turn) -> _Outcome:
        situation = Situation(text=turn.text, state=state, history=tuple(state.history), skills=self.skills,
                              understanding=self.understanding, settings=self.policy,
                              cancel_words=self.cancel_words, pending=self._pending_skill(state))
        move = decide(situation)
        log.debug("conversation %r: %s", state.conversation_id, move.value)
        return self._moves[move](situation, turn)

    def _pending_skill(self, state: ConversationState) -> SkillConfig | None:
        """The skill waiting for a slot, if it (and its intent) are still loaded."""
        skill = self.skills.get(state.active_skill or "")
        if state.waiting_for and skill is not None and state.active_intent in skill.intent_names:
            return skill
        clear_pending(state)  # nothing pending, or a skill since removed from the bot
        return None

    # --- the moves of the policy table -------------------------------------------------------

    def _unreadable(self, s: Situation, turn: Turn) -> _Outcome:
        reply = self.policy.unreadable_replies.get(s.unreadable or "", self.fallback_reply)
        return self._again(s.state, turn, reply)

    def _cancel(self, s: Situation, turn: Turn) -> _Outcome:
        skill = s.state.active_skill
        clear_pending(s.state)
        if resume(s.state):
            return _Outcome(f"{self.cancelled_reply} {self._resume_text(s.state, turn)}", skill)
        return _Outcome(self.cancelled_reply, skill)

    def _not_understood(self, s: Situation, turn: Turn) -> _Outcome:
        return self._again(s.state, turn, self.fallback_reply)

    def _fallback(self, s: Situation, turn: Turn) -> _Outcome:
        return _Outcome(self._fallback_text())

    def _fallback_text(self) -> str:
        """The fallback with nothing pending, and what the bot can do ("hi there" as a first turn)."""
        names = [name.replace("_", " ") for name in sorted(self.skills)]
        listed = " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else ""
        hint = fill_template(self.policy.help_reply, {"skills": listed}) if self.policy.help_reply else ""
        return f"{self.fallback_reply} {hint}".strip()

    def _keep(self, s: Situation, turn: Turn) -> _Outcome:
        """The pending skill's reading applies: an answer, a correction, or another of its intents."""
        state = s.state
        skill = self.skills[state.active_skill or ""]  # the policy keeps only a pending turn
        reading = s.read(skill.name)
        if reading is None:
            return self._advance(state, skill, turn, None)
        fills_asked = state.waiting_for in reading.slots
        answer_only = only_slots(turn.text, reading.slots, self.policy.filler_words)  # "6 am"
        switches = (reading.intent != state.active_intent and not answer_only
                    and reading.confidence >= self.policy.switch_confidence)
        if switches:
            begin(state, skill.name, reading)  # "which alarms do i have" while setting one
        else:
            state.slots.update(reading.slots)  # the answer asked for, or a new value for an earlier slot
        return self._advance(state, skill, turn, reading if switches or reading.slots or fills_asked else None)

    def _digress(self, s: Situation, turn: Turn) -> _Outcome:
        """Another skill serves the turn, the pending request set aside; `_advance` offers it again
        as soon as the new request is done (at once, or after the new one's own questions)."""
        if s.read(s.route.skill or "") is None:  # the other skill finds nothing in it either
            return self._not_understood(s, turn)
        suspend(s.state)
        return self._start(s, turn)

    def _follow_up(self, s: Situation, turn: Turn) -> _Outcome:
        """The last request again, with the slots this turn changed; the reply says which."""
        last, reading = s.state.last_request, s.follow_up
        if last is None or reading is None:  # the policy checked both; kept for the type checker
            return self._fallback(s, turn)
        skill = self.skills[last.skill]
        merged = {**last.slots, **reading.slots}
        suspend(s.state)  # a pending request waits, as for a digression (row 5b); none: a no-op
        begin(s.state, skill.name, reading.model_copy(update={"slots": merged}))
        changes = describe_changes(last.slots, merged) or "nothing new"
        head, has_reply, _ = self.policy.follow_up_reply.partition("{reply}")
        if has_reply and (pieces := _PIECES.get()) is not None:  # streamed: the text before the reply first
            pieces(fill_template(head, {"changes": changes}))
        outcome = self._advance(s.state, skill, turn, reading, replaces=last.slots)
        return _Outcome(fill_template(self.policy.follow_up_reply, {"changes": changes, "reply": outcome.text}),
                        outcome.skill, outcome.frame)

    def _start(self, s: Situation, turn: Turn) -> _Outcome:
        """A new request of the skill the router chose."""
        state, route = s.state, s.route
        if route.skill is None:
            clear_pending(state)
            return _Outcome(self._fallback_text())
        skill = self.skills.get(route.skill)
        if skill is None:
            return self._unknown_skill(state, route)
        frame = s.read(skill.name)
        if frame is None:
            log.warning("conversation %r: skill %r found none of its intents in the turn; "
                        "answered with the fallback", state.conversation_id, skill.name)
            clear_pending(state)
            return _Outcome(self._fallback_text(), skill.name)
        begin(state, skill.name, frame)
        return self._advance(state, skill, turn, frame)

    # --- shared steps ------------------------------------------------------------------------

    def _advance(self, state: ConversationState, skill: SkillConfig, turn: Turn, reading: Frame | None, *,
                 replaces: Mapping[str, str] | None = None) -> _Outcome:
        """Ask for the next missing required slot, or answer the intent and close it."""
        intent = skill.intent(state.active_intent or "")
        frame = Frame(intent=intent.name, slots=dict(state.slots),
                      confidence=reading.confidence if reading else 0.0)
        missing = missing_slot(intent, state.slots)
        context = ResponseContext(skill, intent, frame, state, turn.text, tuple(state.history), missing,
                                  user_id=records_owner(turn), replaces=replaces, on_piece=_PIECES.get())
        reply = self.responses.respond(context)
        if missing:
            state.waiting_for, state.reasked = missing, 0  # asked in answer to a turn for this skill
            return _Outcome(reply, skill.name, frame)
        complete(state)
        if resume(state):  # a request set aside for this one is offered again
            reply = f"{reply} {self._resume_text(state, turn)}"
        return _Outcome(reply, skill.name, frame)

    def _question(self, state: ConversationState, turn: Turn) -> str:
        """The pending request's question, asked again."""
        skill = self.skills[state.active_skill or ""]
        intent = skill.intent(state.active_intent or "")
        frame = Frame(intent=intent.name, slots=dict(state.slots), confidence=0.0)
        context = ResponseContext(skill, intent, frame, state, turn.text, tuple(state.history),
                                  state.waiting_for, user_id=records_owner(turn))
        return self.responses.respond(context)

    def _resume_text(self, state: ConversationState, turn: Turn) -> str:
        if (dropped := self._drop_if_left(state)) is not None:
            return dropped
        return fill_template(self.policy.resume_reply,
                             {"skill": state.active_skill or "", "question": self._question(state, turn)})

    def _again(self, state: ConversationState, turn: Turn, text: str) -> _Outcome:
        """`text`, then the pending question again if one is pending (no skill answered the turn)."""
        if self._pending_skill(state) is None:
            return _Outcome(text)
        if (dropped := self._drop_if_left(state)) is not None:
            return _Outcome(f"{text} {dropped}")
        return _Outcome(f"{text} {self._question(state, turn)}")

    def _drop_if_left(self, state: ConversationState) -> str | None:
        """None: ask the pending question again; else the note that the left request was dropped."""
        skill = state.active_skill or ""
        return fill_template(self.policy.dropped_reply, {"skill": skill}) if left_behind(
            state, self.policy.max_reasks) else None

    def _unknown_skill(self, state: ConversationState, route: Route) -> _Outcome:
        log.error("conversation %r: the router chose skill %r, which this bot has not loaded "
                  "(loaded: %s)\n  fix: add the skill to the bot, or retrain the router on the "
                  "loaded skills only", state.conversation_id, route.skill, ", ".join(self.skills))
        return _Outcome(self.error_reply)


def records_owner(turn: Turn) -> str:
    """Whose records (alarms, events) a turn reaches: its user's; a turn that names no user (the
    default id) keeps them per conversation, so anonymous users of one API never share alarms."""
    default = Turn.model_fields["user_id"].default
    return turn.user_id if turn.user_id != default else f"conversation:{turn.conversation_id}"


def _check_settings(skills: Mapping[str, SkillConfig], history_turns: int) -> None:
    for name, skill in skills.items():
        if name != skill.name:
            raise ValueError(f"skills[{name!r}] holds skill {skill.name!r}; key each skill by its name")
    if history_turns < 1:
        raise ValueError(f"history_turns must be at least 1, got {history_turns}")
