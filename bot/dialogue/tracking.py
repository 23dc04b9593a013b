"""Slot filling on a ConversationState: small steps the manager composes, each testable alone.

A conversation is "pending" while `waiting_for` names a required slot the bot asked for; then
`active_skill`, `active_intent` and `slots` hold the frame filled so far. A pending request put
aside for another skill's is `suspended`; the last completed one is `last_request` (follow-ups).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from bot.config import IntentConfig, SkillConfig
from bot.dialogue.carry_over import phrase_spans
from bot.types import ConversationState, Frame, HistoryEntry, Request

__all__ = ["REPLY_MEMORY", "after_cancel", "begin", "clear_pending", "complete", "is_cancel", "left_behind",
           "missing_slot", "record", "resume", "suspend", "valid_frame"]

log = logging.getLogger("bot.dialogue")

REPLY_MEMORY = 32  # replies kept by turn id; redeliveries come within seconds, not 32 turns later
_EDGE_PUNCTUATION = ".,!?;\"'"
_CLAUSE_BREAK = re.compile(r"[,;:.!?]|\s[-\u2013\u2014]+\s")


def is_cancel(text: str, words: Iterable[str], also: Iterable[str] = ()) -> bool:
    """True if the turn is a cancel phrase ("Never mind!") and else only words of `also` (fillers,
    the pending skill's name: "no, cancel that alarm"); not "cancel my 6 am alarm"."""
    said = _words(text)
    allowed = {word.lower() for word in also}
    return any(all(word in allowed for word in said[:start] + said[end:]) for start, end in phrase_spans(said, words))


def after_cancel(text: str, words: Iterable[str], also: Iterable[str] = ()) -> str | None:
    """The rest of a turn that opens with a cancel clause and goes on with words of its own
    ("never mind, what's the weather in berlin"; "forget it play some jazz"), else None. The clause
    ends at a comma, full stop, dash... or, for a phrase of two words or more, right after it; the
    rest needs a word that is not a filler ("cancel, thanks" is a cancel)."""
    also = tuple(also)
    ends = [match.start() for match in _CLAUSE_BREAK.finditer(text)]
    ends += [match.end() for phrase in words if len(phrase.split()) > 1
             for match in [re.match(r"\W*" + r"\W+".join(map(re.escape, phrase.split())) + r"\b", text, re.I)]
             if match]
    allowed = {word.lower() for word in also}
    for end in sorted(set(ends), reverse=True):  # the longest clause: "never mind the alarm - ..."
        rest = text[end:].lstrip(_EDGE_PUNCTUATION + "-\u2013\u2014 ")
        own = set(_words(rest)) - allowed
        if own and is_cancel(text[:end], words, also) and not is_cancel(rest, words, also):
            return rest
    return None


def _words(text: str) -> list[str]:
    """The turn's words, lower case, punctuation dropped: what cancel phrases are matched against."""
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def valid_frame(frame: Frame, skill: SkillConfig) -> Frame | None:
    """The frame with undeclared or empty slots dropped; None if its intent is not the skill's."""
    if frame.intent not in skill.intent_names:
        return None
    known = set(skill.slot_names)
    # a span read at the end of a turn may take its punctuation along ("tomorrow?")
    values = {name: value.strip().strip(_EDGE_PUNCTUATION).strip() for name, value in frame.slots.items()}
    slots = {name: value for name, value in values.items() if name in known and value}
    return frame.model_copy(update={"slots": slots})


def begin(state: ConversationState, skill: str, frame: Frame) -> None:
    """Make `frame` the conversation's pending request, forgetting any earlier one."""
    state.active_skill, state.active_intent = skill, frame.intent
    state.slots, state.waiting_for, state.reasked = dict(frame.slots), None, 0


def clear_pending(state: ConversationState) -> None:
    state.active_skill = state.active_intent = state.waiting_for = None
    state.slots, state.reasked = {}, 0


def suspend(state: ConversationState) -> None:
    """Set the pending request aside (it resumes when the next one completes or is cancelled)."""
    if state.active_skill and state.active_intent:
        state.suspended = Request(skill=state.active_skill, intent=state.active_intent,
                                  slots=dict(state.slots), waiting_for=state.waiting_for, turn=state.turns,
                                  reasked=state.reasked)
    clear_pending(state)


def resume(state: ConversationState) -> bool:
    """Make the suspended request pending again; False if there is none."""
    request, state.suspended = state.suspended, None
    if request is None:
        return False
    state.active_skill, state.active_intent = request.skill, request.intent
    state.slots, state.waiting_for, state.reasked = dict(request.slots), request.waiting_for, request.reasked
    return True


def left_behind(state: ConversationState, max_reasks: int) -> bool:
    """Count one more turn that went elsewhere with a question pending; past `max_reasks` of them in
    a row the request is dropped (True) instead of asked again: the user has left it."""
    state.reasked += 1
    if state.reasked <= max_reasks:
        return False
    log.info("conversation %r: the %s request was left for %d turns; dropped", state.conversation_id,
             state.active_skill, state.reasked)
    clear_pending(state)
    return True


def complete(state: ConversationState) -> None:
    """The pending request was answered: remember it for follow-ups and clear it."""
    if state.active_skill and state.active_intent:
        state.last_request = Request(skill=state.active_skill, intent=state.active_intent,
                                     slots=dict(state.slots), turn=state.turns)
    clear_pending(state)


def missing_slot(intent: IntentConfig, slots: dict[str, str]) -> str | None:
    """The first required slot still unfilled, in the order the config lists them."""
    return next((slot for slot in intent.required_slots if not slots.get(slot)), None)


def record(state: ConversationState, text: str, reply: str, *, turn_id: str | None,
           keep: int) -> None:
    """Append the exchange to the history (the last `keep` entries stay) and count the turn."""
    state.history = [*state.history, HistoryEntry(role="user", text=text),
                     HistoryEntry(role="bot", text=reply)][-keep:]
    state.turns += 1
    if turn_id is not None:
        state.replies[turn_id] = reply
        for old in list(state.replies)[:-REPLY_MEMORY]:
            del state.replies[old]
