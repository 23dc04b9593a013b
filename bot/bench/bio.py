"""Slot dicts <-> per-word BIO tags, so a tagger's output is scored like the LLM's frames.

Both systems are scored by `bot.tuning.metrics.score` on slot dicts of word spans; the tagger
only sees tags on the way in and gives tags back on the way out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.skills.examples import find_value_span
from bot.skills.importers import bio_to_slots
from bot.types import Example, SlotValues

__all__ = ["OUTSIDE", "example_tags", "slots_from_tags", "tag_labels"]

OUTSIDE = "O"


def example_tags(example: Example) -> tuple[list[str], list[str]]:
    """The example's words and one BIO tag per word (a value's first occurrence is tagged).

    A value that is not whole words of the text, or that overlaps one already tagged, is left
    untagged: the tagger cannot represent it (the gold dict still counts it when scoring).
    """
    words = example.text.split()
    tags = [OUTSIDE] * len(words)
    for name, value in example.slots.items():
        span = find_value_span(example.text, value)
        if span is None or any(tags[i] != OUTSIDE for i in range(*span)):
            continue
        start, end = span
        tags[start] = f"B-{name}"
        for i in range(start + 1, end):
            tags[i] = f"I-{name}"
    return words, tags


def tag_labels(examples: Iterable[Example]) -> list[str]:
    """'O' then B-/I- tags of every slot name in the examples, sorted (the tagger's label set)."""
    names = sorted({name for example in examples for name in example.slots})
    return [OUTSIDE] + [f"{kind}-{name}" for name in names for kind in ("B", "I")]


def slots_from_tags(words: Sequence[str], tags: Sequence[str]) -> SlotValues:
    """Slot name -> value from BIO tags (conlleval reading); the first span of a name wins."""
    slots: dict[str, str] = {}
    for name, value in bio_to_slots(words, tags):
        slots.setdefault(name, value)
    return slots
