"""The moves of the digression policy, carried out: what each chosen move does to the state and says.

Which reading of a turn wins is the digression policy, a table in `bot/dialogue/policy.py`:
every turn is routed; a skill waiting for an answer keeps the turn only when that is the better
reading; another skill's request is served and the waiting one offered again; out of scope gets
the fallback and the waiting question again; cancel cancels; a turn of only slot values right
after a request updates that request (a follow-up). This module carries out the chosen move; the
manager (`bot/dialogue/manager.py`) delivers the turn around it: lock, dedup, save, safe replies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace

from bot.config import SkillConfig
from bot.config.dialogue import DialogueSettings
from bot.config.templates import fill_template
from bot.dialogue.carry_over import describe_changes, only_slots
from bot.dialogue.pieces import ReplyPieces
from bot.dialogue.policy import Move, Situation, decide
from bot.dialogue.responses import ResponseContext, Responses
from bot.dialogue.tracking import begin, clear_pending, complete, left_behind, missing_slot, resume, suspend
from bot.types import ConversationState, Frame, Route, Turn

__all__ = ["LIVE_PIECES", "Moves", "Outcome", "Replies", "pending_skill", "records_owner"]

log = logging.getLogger("bot.dialogue")

# The pieces of the reply of the turn this thread answers, if it is streamed (None: it is not).
LIVE_PIECES: ContextVar[ReplyPieces | None] = ContextVar("reply_pieces", default=None)


@dataclass(frozen=True)
class Outcome:
    """What a turn comes to: the reply's text and, when a skill answered, its name and frame."""
    text: str
    skill: str | None = None
    frame: Frame | None = None
    handled: bool = True  # False: perhaps not applied; the same turn may be sent again


@dataclass(frozen=True)
class Replies:
    """The fixed replies the moves give (configurable per bot)."""
    fallback: str
    error: str
    cancelled: str


class Moves:
    """Carries out one move of the policy table on a turn's (working copy of the) state."""

    def __init__(self, skills: Mapping[str, SkillConfig], responses: Responses, policy: DialogueSettings,
                 replies: Replies) -> None:
        self.skills, self.responses, self.policy, self.replies = skills, responses, policy, replies
        self._table: dict[Move, Callable[[Situation, Turn], Outcome]] = {
            Move.unreadable: self._unreadable, Move.cancel: self._cancel, Move.cancel_then: self._cancel_then,
            Move.keep: self._keep, Move.digress: self._digress, Move.not_understood: self._not_understood,
            Move.follow_up: self._follow_up, Move.start: self._start, Move.fallback: self._fallback,
        }

    def carry_out(self, move: Move, situation: Situation, turn: Turn) -> Outcome:
        """The outcome of `move` on `turn`; it changes `situation.state` in place."""
        return self._table[move](situation, turn)

    # --- the moves of the policy table -------------------------------------------------------

    def _unreadable(self, s: Situation, turn: Turn) -> Outcome:
        reply = self.policy.unreadable_replies.get(s.unreadable or "", self.replies.fallback)
        return self._again(s.state, turn, reply)

    def _cancel(self, s: Situation, turn: Turn) -> Outcome:
        skill = s.state.active_skill
        clear_pending(s.state)
        if resume(s.state):
            return Outcome(f"{self.replies.cancelled} {self._resume_text(s.state, turn)}", skill)
        return Outcome(self.replies.cancelled, skill)

    def _cancel_then(self, s: Situation, turn: Turn) -> Outcome:
        """Drop the pending request, if any, then answer the rest of the turn as a turn of its own
        (rows 2b, 7b)."""
        rest, dropped = s.after_cancel or "", s.pending is not None
        clear_pending(s.state)
        resume(s.state)  # a request the dropped one had set aside is pending again
        situation = s.rest(rest, pending_skill(self.skills, s.state))
        outcome = self.carry_out(decide(situation), situation, turn.model_copy(update={"text": rest}))
        return replace(outcome, text=f"{self.replies.cancelled} {outcome.text}") if dropped else outcome

    def _not_understood(self, s: Situation, turn: Turn) -> Outcome:
        return self._again(s.state, turn, self.replies.fallback)

    def _fallback(self, s: Situation, turn: Turn) -> Outcome:
        return Outcome(self._fallback_text())

    def _fallback_text(self) -> str:
        """The fallback with nothing pending, and what the bot can do ("hi there" as a first turn)."""
        names = [name.replace("_", " ") for name in sorted(self.skills)]
        listed = " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else ""
        hint = fill_template(self.policy.help_reply, {"skills": listed}) if self.policy.help_reply else ""
        return f"{self.replies.fallback} {hint}".strip()

    def _keep(self, s: Situation, turn: Turn) -> Outcome:
        """The pending skill's reading applies: an answer, a correction, or another of its intents."""
        state = s.state
        skill = self.skills[state.active_skill or ""]  # the policy keeps only a pending turn
        reading = s.worded_answer or s.read(skill.name)
        if reading is None:
            return self._advance(state, skill, turn, None)
        fills_asked = state.waiting_for in reading.slots
        answer_only = only_slots(turn.text, reading.slots, self.policy.fillers)  # "6 am"
        # "hmm" asks for nothing: read as calendar_query, it dropped the event asked for
        switches = (reading.intent != state.active_intent and not answer_only and not s.asks_nothing
                    and reading.confidence >= self.policy.switch_confidence)
        if switches:
            begin(state, skill.name, reading)  # "which alarms do i have" while setting one
        else:
            state.slots.update(reading.slots)  # the answer asked for, or a new value for an earlier slot
        return self._advance(state, skill, turn, reading if switches or reading.slots or fills_asked else None)

    def _digress(self, s: Situation, turn: Turn) -> Outcome:
        """Another skill serves the turn, the pending request set aside; `_advance` offers it again
        as soon as the new request is done (at once, or after the new one's own questions)."""
        if s.read(s.route.skill or "") is None:  # the other skill finds nothing in it either
            return self._not_understood(s, turn)
        suspend(s.state)
        return self._start(s, turn)

    def _follow_up(self, s: Situation, turn: Turn) -> Outcome:
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
        if has_reply and (pieces := LIVE_PIECES.get()) is not None:  # streamed: the text before the reply first
            pieces(fill_template(head, {"changes": changes}))
        outcome = self._advance(s.state, skill, turn, reading, replaces=last.slots)
        return Outcome(fill_template(self.policy.follow_up_reply, {"changes": changes, "reply": outcome.text}),
                       outcome.skill, outcome.frame)

    def _start(self, s: Situation, turn: Turn) -> Outcome:
        """A new request of the skill the router chose."""
        state, route = s.state, s.route
        if route.skill is None:
            clear_pending(state)
            return Outcome(self._fallback_text())
        skill = self.skills.get(route.skill)
        if skill is None:
            return self._unknown_skill(state, route)
        frame = s.read(skill.name)
        if frame is None:
            log.warning("conversation %r: skill %r found none of its intents in the turn; "
                        "answered with the fallback", state.conversation_id, skill.name)
            clear_pending(state)
            return Outcome(self._fallback_text(), skill.name)
        begin(state, skill.name, frame)
        return self._advance(state, skill, turn, frame)

    # --- shared steps ------------------------------------------------------------------------

    def _advance(self, state: ConversationState, skill: SkillConfig, turn: Turn, reading: Frame | None, *,
                 replaces: Mapping[str, str] | None = None) -> Outcome:
        """Ask for the next missing required slot, or answer the intent and close it."""
        intent = skill.intent(state.active_intent or "")
        frame = Frame(intent=intent.name, slots=dict(state.slots),
                      confidence=reading.confidence if reading else 0.0)
        missing = missing_slot(intent, state.slots)
        context = ResponseContext(skill, intent, frame, state, turn.text, tuple(state.history), missing,
                                  user_id=records_owner(turn), replaces=replaces, on_piece=LIVE_PIECES.get())
        reply = self.responses.respond(context)
        if missing:
            state.waiting_for, state.reasked = missing, 0  # asked in answer to a turn for this skill
            return Outcome(reply, skill.name, frame)
        complete(state)
        if resume(state):  # a request set aside for this one is offered again
            reply = f"{reply} {self._resume_text(state, turn)}"
        return Outcome(reply, skill.name, frame)

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

    def _again(self, state: ConversationState, turn: Turn, text: str) -> Outcome:
        """`text`, then the pending question again if one is pending (no skill answered the turn)."""
        if pending_skill(self.skills, state) is None:
            return Outcome(text)
        if (dropped := self._drop_if_left(state)) is not None:
            return Outcome(f"{text} {dropped}")
        return Outcome(f"{text} {self._question(state, turn)}")

    def _drop_if_left(self, state: ConversationState) -> str | None:
        """None: ask the pending question again; else the note that the left request was dropped."""
        skill = state.active_skill or ""
        return fill_template(self.policy.dropped_reply, {"skill": skill}) if left_behind(
            state, self.policy.max_reasks) else None

    def _unknown_skill(self, state: ConversationState, route: Route) -> Outcome:
        log.error("conversation %r: the router chose skill %r, which this bot has not loaded "
                  "(loaded: %s)\n  fix: add the skill to the bot, or retrain the router on the "
                  "loaded skills only", state.conversation_id, route.skill, ", ".join(self.skills))
        return Outcome(self.replies.error)


def pending_skill(skills: Mapping[str, SkillConfig], state: ConversationState) -> SkillConfig | None:
    """The skill waiting for a slot, if it (and its intent) are still loaded; else the pending
    request is cleared (nothing pending, or a skill since removed from the bot)."""
    skill = skills.get(state.active_skill or "")
    if state.waiting_for and skill is not None and state.active_intent in skill.intent_names:
        return skill
    clear_pending(state)
    return None


def records_owner(turn: Turn) -> str:
    """Whose records (alarms, events) a turn reaches: its user's; a turn that names no user (the
    default id) keeps them per conversation, so anonymous users of one API never share alarms."""
    default = Turn.model_fields["user_id"].default
    return turn.user_id if turn.user_id != default else f"conversation:{turn.conversation_id}"
