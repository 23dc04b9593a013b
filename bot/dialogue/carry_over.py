"""Contextual carry-over: a turn that only carries slots changes the request it follows.

"and tomorrow?" after "what's the weather in paris" keeps the place and adds the day. A turn is
such a follow-up when, once the slot values read from it are taken out, only filler words remain
("and", "what about", "in", ...; the list is a setting). The same test tells an answer or a
correction ("no wait, wednesday") from a new request while a question is pending. A correction cue ("no",
"actually", "make it") says the turn changes the request before it, whatever intent it reads as.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

__all__ = ["asks_nothing", "describe_changes", "only_slots", "phrase_spans", "says_any", "without_edge_fillers"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def only_slots(text: str, slots: Mapping[str, str], fillers: Iterable[str]) -> bool:
    """True if the turn says nothing but the slot values (at least one) and filler words."""
    if not slots:
        return False
    rest = text.lower()
    for value in sorted(slots.values(), key=len, reverse=True):  # "new york" before "york"
        rest = rest.replace(value.lower(), " ")
    allowed = {word.lower() for word in fillers}
    return all(word in allowed for word in _WORD.findall(rest))


def without_edge_fillers(text: str, fillers: Iterable[str]) -> str:
    """The turn as typed, less the filler words at its two ends ("just lunch with sam please" ->
    "lunch with sam"): the words of an answer that is the value itself."""
    allowed = {word.lower() for word in fillers}
    kept = [word for word in _WORD.finditer(text) if word.group().lower() not in allowed]
    return text[kept[0].start():kept[-1].end()] if kept else ""


def asks_nothing(text: str, fillers: Iterable[str], question_words: Iterable[str]) -> bool:
    """True if the turn is only filler words and no question ("thx", "ok great"; not "what's on?")."""
    return not without_edge_fillers(text, fillers) and not says_any(text, question_words)


def says_any(text: str, phrases: Iterable[str]) -> bool:
    """True if the turn has one of the phrases as whole words ("no, 8 am" has "no"; "know" has not)."""
    return next(phrase_spans([word.lower() for word in _WORD.findall(text)], phrases), None) is not None


def phrase_spans(said: list[str], phrases: Iterable[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of every place in the words `said` where one of the phrases stands whole."""
    for phrase in {tuple(phrase.lower().split()) for phrase in phrases}:
        for start in range(len(said) - len(phrase) + 1) if phrase else ():
            if tuple(said[start:start + len(phrase)]) == phrase:
                yield start, start + len(phrase)


def describe_changes(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    """What a follow-up changed, for the reply: "date: tomorrow; place name: oslo → madrid"."""
    parts = []
    for slot, value in after.items():
        old = before.get(slot)
        if old == value:
            continue
        name = slot.replace("_", " ")
        parts.append(f"{name}: {old} → {value}" if old else f"{name}: {value}")
    return "; ".join(parts)
