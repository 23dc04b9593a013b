"""What the dialogue manager asks of the model, and a scripted stand-in for tests.

The manager never sees torch or a tokenizer: it routes, reads and generates through this protocol.
The model room implements it over the one frozen model; `ScriptedUnderstanding` implements it with
regular expressions, so a skill author can test a whole conversation in milliseconds::

    understanding = ScriptedUnderstanding([
        Rule(r"alarm( for (?P<time>\\d+ ?[ap]m))?", "alarms", "set_alarm"),
        Rule(r"(?P<time>\\d+ ?[ap]m)", "alarms", "set_alarm", confidence=0.6),  # an answer alone
    ])
    manager = DialogueManager(skills, understanding, MemoryStore())
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, TypeVar, runtime_checkable

from bot.dialogue.pieces import OnPiece, word_pieces
from bot.types import Frame, HistoryEntry, Route

__all__ = ["Answer", "Call", "Route", "Rule", "ScriptedUnderstanding", "Submitting", "Understanding"]

T_co = TypeVar("T_co", covariant=True)


@runtime_checkable
class Understanding(Protocol):
    """The model as the dialogue manager sees it. `history` is the recent conversation, oldest first;
    fitting it into the prompt's token budget is the implementation's job (it knows the tokenizer)."""

    def route(self, text: str, history: Sequence[HistoryEntry]) -> Route:
        """Which skill the turn is for, or Route(None) if none is."""

    def read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> Frame:
        """The turn's intent and slots as `skill` understands them."""

    def generate(self, skill: str, text: str, history: Sequence[HistoryEntry],
                 on_piece: OnPiece | None = None) -> str:
        """Free text the model writes as the reply, for intents configured with `generate: true`;
        `on_piece`, if given, gets the text in pieces as it is written (they join to the result)."""


class Answer(Protocol[T_co]):
    """A model answer asked for and perhaps not ready yet (a `concurrent.futures.Future` is one)."""

    def result(self) -> T_co:
        """Wait for the answer; a failed read raises here."""


@runtime_checkable
class Submitting(Protocol):
    """An `Understanding` that can ask for reads without waiting, so the reads one turn will need
    whatever the route says (the route itself, a pending or last skill's reading) go to the model
    together: one forward batch instead of one after another. Optional: the policy asks an
    understanding without these methods one read at a time."""

    def submit_route(self, text: str, history: Sequence[HistoryEntry]) -> Answer[Route]:
        """`route`, started now and waited for on `result()`."""

    def submit_read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> Answer[Frame]:
        """`read`, started now and waited for on `result()`."""


@dataclass(frozen=True)
class Rule:
    """If `pattern` is found in the text (case-insensitive): this skill and intent, and the pattern's
    named groups that matched as slots (plus the fixed `slots`)."""

    pattern: str
    skill: str
    intent: str
    confidence: float = 1.0
    slots: Mapping[str, str] = field(default_factory=dict)


class Call(NamedTuple):
    """One request the manager made, recorded so tests can check what the model was asked."""

    method: str  # "route", "read" or "generate"
    skill: str | None
    text: str
    history: tuple[HistoryEntry, ...]


class ScriptedUnderstanding:
    """An `Understanding` driven by rules tried in order; the first match wins.

    `route` returns the first matching rule's skill (no match: out of scope). `read` tries only the
    rules of the skill asked for; with no match it returns an empty frame (intent "", confidence 0),
    which the manager treats as "nothing understood". `generate` formats `generated` with `skill`
    and `text` (streamed word by word to `on_piece`). Every request is appended to `calls`.
    """

    def __init__(self, rules: Iterable[Rule], *, generated: str = "({skill}) {text}") -> None:
        self.rules = list(rules)
        self.generated = generated
        self.calls: list[Call] = []
        self._compiled = [(_compile(rule.pattern), rule) for rule in self.rules]

    def route(self, text: str, history: Sequence[HistoryEntry]) -> Route:
        self.calls.append(Call("route", None, text, tuple(history)))
        for _, rule in self._matches(text, None):
            return Route(rule.skill, rule.confidence)
        return Route(None)

    def read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> Frame:
        self.calls.append(Call("read", skill, text, tuple(history)))
        for match, rule in self._matches(text, skill):
            found = {name: value.strip() for name, value in match.groupdict().items() if value}
            return Frame(intent=rule.intent, slots={**rule.slots, **found}, confidence=rule.confidence)
        return Frame(intent="", confidence=0.0)

    def generate(self, skill: str, text: str, history: Sequence[HistoryEntry],
                 on_piece: OnPiece | None = None) -> str:
        self.calls.append(Call("generate", skill, text, tuple(history)))
        reply = self.generated.format(skill=skill, text=text)
        for piece in word_pieces(reply) if on_piece is not None else ():
            on_piece(piece)
        return reply

    def _matches(self, text: str, skill: str | None) -> Iterable[tuple[re.Match[str], Rule]]:
        for pattern, rule in self._compiled:
            match = pattern.search(text) if skill in (None, rule.skill) else None
            if match:
                yield match, rule


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as err:
        raise ValueError(f"rule pattern {pattern!r} is not a valid regular expression: {err}") from None
