"""The dialogue manager: one turn in, one reply out, whatever channel the turn came from.

This module delivers a turn: under the conversation's lock, once per turn id, on a working copy
of the state that is saved only when the turn is done, with a safe reply for any failure. Which
move a turn gets is the digression policy (`bot/dialogue/policy.py`); carrying the move out is
`bot/dialogue/moves.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

from bot.config import SkillConfig
from bot.config.dialogue import DialogueSettings
from bot.dialogue.actions.providers import load_providers
from bot.dialogue.moves import LIVE_PIECES, Moves, Outcome, Replies, pending_skill
from bot.dialogue.pieces import OnPiece, ReplyPieces
from bot.dialogue.policy import Situation, decide
from bot.dialogue.responses import Responses
from bot.dialogue.tracking import record
from bot.dialogue.understanding import Understanding
from bot.store import ConversationStore, StoreError, StoreLockTimeout
from bot.types import ConversationState, Reply, Turn

__all__ = ["BUSY_REPLY", "CANCELLED_REPLY", "DEDUP_SECONDS", "ERROR_REPLY", "FALLBACK_REPLY",
           "DialogueManager"]

log = logging.getLogger("bot.dialogue")

DEDUP_SECONDS = 3600  # how long a turn id is remembered across workers
FALLBACK_REPLY = "Sorry, I can't help with that yet."
BUSY_REPLY = "I'm still working on your last message; please try again in a moment."
ERROR_REPLY = "Sorry, something went wrong on my side. Please try again."
CANCELLED_REPLY = "Okay, cancelled."


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
        self._moves = Moves(self.skills, self.responses, self.policy,
                            Replies(fallback=fallback_reply, error=error_reply, cancelled=cancelled_reply))

    def handle(self, turn: Turn, on_piece: OnPiece | None = None) -> Reply:
        """Answer one turn, saving what it changed; a failure becomes a safe reply and a log entry.
        `on_piece` gets the reply text in pieces: a generated reply's as the model writes it, the
        rest when the turn is done; they join to the reply's text. The turn is stored as without it."""
        started = time.perf_counter()
        pieces = ReplyPieces(on_piece) if on_piece is not None else None
        live = LIVE_PIECES.set(pieces)  # the thread's own: concurrent turns never see each other's
        try:
            outcome = self._guarded(turn)
        finally:
            LIVE_PIECES.reset(live)
        if pieces is not None:
            pieces.finish(outcome.text)
        return Reply(conversation_id=turn.conversation_id, text=outcome.text, skill=outcome.skill,
                     frame=outcome.frame, seconds=time.perf_counter() - started, handled=outcome.handled)

    def _guarded(self, turn: Turn) -> Outcome:
        """The turn's outcome; a failure outside the turn's own work is marked not handled, so an
        adapter can ask for a retry (which the turn id makes safe) instead of passing it off as an answer."""
        try:
            return self._locked(turn)
        except StoreLockTimeout as err:
            log.warning("%s", err)
            return Outcome(self.busy_reply, handled=False)
        except StoreError as err:  # unreachable store, lost lock, unreadable state: the log has the fix
            log.error("conversation %r: turn not handled: %s", turn.conversation_id, err)
            return Outcome(self.error_reply, handled=False)
        except Exception:
            log.exception("conversation %r: turn not handled", turn.conversation_id)
            return Outcome(self.error_reply, handled=False)

    def _locked(self, turn: Turn) -> Outcome:
        turn_id = turn.turn_id or None  # "" is no id
        redelivered = turn_id is not None and self.store.seen(f"turn:{turn_id}", DEDUP_SECONDS)
        with self.store.lock(turn.conversation_id):
            state = self.store.load(turn.conversation_id)
            if turn_id is not None and turn_id in state.replies:
                log.info("conversation %r: turn %r delivered again; repeating its reply",
                         turn.conversation_id, turn_id)
                return Outcome(state.replies[turn_id])
            if redelivered:  # its first delivery died before saving (e.g. a killed worker)
                log.warning("conversation %r: turn %r was delivered before but never answered; "
                            "answering it now", turn.conversation_id, turn_id)
            state, outcome = self._turn(state, turn)
            record(state, turn.text, outcome.text, turn_id=turn_id, keep=self.history_turns * 2)
            self.store.save(state)
            return outcome

    def _turn(self, state: ConversationState, turn: Turn) -> tuple[ConversationState, Outcome]:
        """Work on a copy, so a failing model or action leaves the state as it was before the turn."""
        work = state.model_copy(deep=True)
        try:
            return work, self._converse(work, turn)
        except StoreError:
            raise  # the user's records could not be kept: not handled, so the turn may be sent again
        except Exception:
            log.exception("conversation %r: could not answer turn %d; replied with an apology",
                          state.conversation_id, state.turns + 1)
            return state, Outcome(self.error_reply)

    def _converse(self, state: ConversationState, turn: Turn) -> Outcome:
        situation = Situation(text=turn.text, state=state, history=tuple(state.history), skills=self.skills,
                              understanding=self.understanding, settings=self.policy,
                              cancel_words=self.cancel_words, pending=self._pending_skill(state))
        move = decide(situation)
        log.debug("conversation %r: %s", state.conversation_id, move.value)
        return self._moves.carry_out(move, situation, turn)

    def _pending_skill(self, state: ConversationState) -> SkillConfig | None:
        """The skill waiting for a slot, if it (and its intent) are still loaded."""
        return pending_skill(self.skills, state)


def _check_settings(skills: Mapping[str, SkillConfig], history_turns: int) -> None:
    for name, skill in skills.items():
        if name != skill.name:
            raise ValueError(f"skills[{name!r}] holds skill {skill.name!r}; key each skill by its name")
    if history_turns < 1:
        raise ValueError(f"history_turns must be at least 1, got {history_turns}")
