"""The load test's checker: what each client was told against what the store holds, so that a
turn lost, applied twice or out of order (or a reply that is not the stored one) is counted."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.store import ConversationStore

__all__ = ["TurnLog", "Verdict", "verify"]

PROBLEMS_KEPT = 20
REPLY_NUMBER = re.compile(r"^turn (\d+)\b")


@dataclass
class TurnLog:
    """One turn as its client saw it."""

    number: int
    turn_id: str
    text: str
    attempts: int = 0
    causes: list[str] = field(default_factory=list)
    outcome: Literal["acknowledged", "failed", "unfinished"] = "unfinished"
    reply: str | None = None
    seconds: float = 0.0  # first request sent to acknowledgement, retries included


@dataclass
class Verdict:
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    mismatched: int = 0
    problems: list[str] = field(default_factory=list)

    def note(self, kind: str, problem: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(f"{kind}: {problem}")


def verify(conversations: Mapping[str, Sequence[TurnLog]], store: ConversationStore, *,
           numbered: bool = True) -> Verdict:
    """Compare what each client was told with what the store holds for its conversation; `numbered`
    replies (the scripted model's) must also name their turn's number."""
    verdict = Verdict()
    for cid, turns in conversations.items():
        _verify_conversation(cid, turns, store, verdict, numbered)
    return verdict


def _verify_conversation(cid: str, turns: Sequence[TurnLog], store: ConversationStore, verdict: Verdict,
                         numbered: bool) -> None:
    state = store.load(f"api:{cid}")  # the HTTP API's conversations live under its channel
    by_text = {turn.text: turn for turn in turns}
    applied = [by_text[entry.text].number if entry.text in by_text else 0
               for entry in state.history if entry.role == "user"]
    if 0 in applied or state.turns != len(applied):
        verdict.note("mismatched", f"{cid}: stored turns {state.turns}, history {applied} (0: a text never sent)")
    for number, count in Counter(applied).items():
        for _ in range(count - 1):
            verdict.note("duplicated", f"{cid}: turn {number} applied {count} times")
    unique = list(dict.fromkeys(applied))
    for before, after in zip(unique, unique[1:]):
        if after < before:
            verdict.note("reordered", f"{cid}: turn {after} applied after turn {before}")
    last_sent = max((turn.number for turn in turns if turn.attempts), default=0)
    for turn in turns:
        if turn.outcome == "acknowledged":
            _verify_acknowledged(cid, turn, state.replies, applied, verdict, numbered)
        elif turn.number in applied and turn.number != last_sent:
            verdict.note("mismatched", f"{cid}: turn {turn.number} applied though never acknowledged")


def _verify_acknowledged(cid: str, turn: TurnLog, stored: Mapping[str, str], applied: Sequence[int],
                         verdict: Verdict, numbered: bool) -> None:
    if turn.number not in applied:
        verdict.note("lost", f"{cid}: turn {turn.number} was acknowledged ({turn.reply!r}) but is not stored")
    said = REPLY_NUMBER.match(turn.reply or "")
    key = f"api:{turn.turn_id}"  # the API namespaces turn ids by channel, as it does conversation ids
    if numbered and (said is None or int(said.group(1)) != turn.number):
        verdict.note("mismatched", f"{cid}: turn {turn.number} was answered {turn.reply!r}")
    elif stored.get(key, turn.reply) != turn.reply:
        verdict.note("mismatched", f"{cid}: turn {turn.number} was answered {turn.reply!r}, stored {stored[key]!r}")
