"""The frame as text, in one place: what the untuned modes show the model and what their decoder
lets it write, ` Intent | words copied from the message = slot` (then the end token).

Three rules live here and nowhere else:
- the pieces: each of intent, value and slot name is written after one space; ` |` opens a slot,
  ` =` closes its value (one token each, so a value can never be read as the frame's syntax);
- the word-span rule: a slot value is a run of whole words of the message (split on whitespace,
  compared exactly: case and punctuation count);
- slot order: slots are written in the order their values occur in the message, each value after
  the one before it (as a slot tagger reads them), so demonstrations, targets and the decoder agree.

Examples files, prompts (`bot.skills.prompts`), the decoder (`bot.model.decoding`) and the tagger
import them from here. Plain text only: no tokenizer, no model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

__all__ = ["EQUALS", "MAX_SPAN_WORDS", "SEPARATOR", "find_span", "find_value_span", "frame_text",
           "ordered_slots", "piece", "word_spans"]

SEPARATOR = " |"  # before each slot
EQUALS = " ="  # between a value and the name of its slot
MAX_SPAN_WORDS = 12  # the longest value the decoder offers to copy


def piece(name_or_value: str) -> str:
    """An intent, a value or a slot name as it stands in the frame: after one space."""
    return " " + name_or_value


def frame_text(intent: str, slots: Mapping[str, str], text: str) -> str:
    """The frame as the model writes it, e.g. ` PlayMusic | miles davis = artist`."""
    return piece(intent) + "".join(SEPARATOR + piece(value) + EQUALS + piece(name)
                                   for name, value, _ in ordered_slots(text, slots))


def find_span(words: list[str], wanted: list[str], start: int = 0) -> int | None:
    """The first word index at or after `start` where the words `wanted` occur in `words`, else None."""
    for at in range(start, len(words) - len(wanted) + 1):
        if wanted and words[at:at + len(wanted)] == wanted:
            return at
    return None


def find_value_span(text: str, value: str) -> tuple[int, int] | None:
    """Word indices [start, end) of the first place `value`'s words occur in `text`, else None."""
    wanted = value.split()
    start = find_span(text.split(), wanted)
    return None if start is None else (start, start + len(wanted))


def word_spans(text: str, max_words: int = MAX_SPAN_WORDS) -> Iterator[tuple[int, str]]:
    """(start word, value) for every run of 1..`max_words` whole words of `text`, in reading order."""
    words = text.split()
    for start in range(len(words)):
        for stop in range(start + 1, min(len(words), start + max_words) + 1):
            yield start, " ".join(words[start:stop])


def ordered_slots(text: str, slots: Mapping[str, str]) -> list[tuple[str, str, int]]:
    """(name, value, first word) in reading order, each value placed after the one before it,
    as the decoder reads them; a repeated value ("6 out of 6") takes its next occurrence."""
    words, left, placed, cursor = text.split(), dict(slots), [], 0
    while left:
        found = {name: find_span(words, value.split(), cursor) for name, value in left.items()}
        name = min(left, key=lambda n: (found[n] is None, found[n] or 0))  # ties keep the given order
        start = found[name]
        value = left.pop(name)
        if start is None:  # not after the others: kept, but the decoder could not produce it
            placed.append((name, value, len(words)))
            continue
        placed.append((name, value, start))
        cursor = start + len(value.split())
    return placed
