"""BIO tags over a turn's words: made from labelled examples, read back as slot values.

A word is a whitespace-separated piece of the user's text, so a slot value is always the user's
own words, exactly as typed. Tags are decoded with a Viterbi pass over the tagger's scores that
only allows `I-x` right after `B-x` or `I-x` and only the slots the chosen intent can carry:
whatever the scores, the result is a valid set of spans.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bot.skills.prompts import ordered_slots

__all__ = ["OUTSIDE", "slots_from_tags", "tag_names", "transition_mask", "viterbi", "word_tags"]

OUTSIDE = "O"


def tag_names(slots: Sequence[str]) -> list[str]:
    """`O`, then `B-slot`, `I-slot` for each slot, in the skill's order."""
    return [OUTSIDE] + [f"{prefix}-{slot}" for slot in slots for prefix in ("B", "I")]


def word_tags(text: str, slots: dict[str, str], tags: Sequence[str]) -> list[int]:
    """Tag index per word; each value takes its place in reading order, as the reader reads it."""
    index = {name: n for n, name in enumerate(tags)}
    labels = [index[OUTSIDE]] * len(text.split())
    for name, value, start in ordered_slots(text, slots):
        width = len(value.split())
        if start + width > len(labels) or f"B-{name}" not in index:
            continue  # a value that is not a word span of the text cannot be tagged
        labels[start] = index[f"B-{name}"]
        for position in range(start + 1, start + width):
            labels[position] = index[f"I-{name}"]
    return labels


def transition_mask(tags: Sequence[str]) -> torch.Tensor:
    """`[K, K]` with True where tag j may follow tag i (I-x only after B-x or I-x)."""
    allowed = torch.ones(len(tags), len(tags), dtype=torch.bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            slot = tag[2:]
            allowed[:, j] = torch.tensor([t in (f"B-{slot}", tag) for t in tags])
    return allowed


def viterbi(scores: torch.Tensor, transitions: torch.Tensor, usable: torch.Tensor) -> list[int]:
    """Best valid tag path for `[T, K]` log-scores; `usable` `[K]` masks tags of other intents."""
    if scores.shape[0] == 0:
        return []
    blocked = torch.tensor(float("-inf"), dtype=scores.dtype)
    step_ok = transitions & usable.unsqueeze(0) & usable.unsqueeze(1)
    start_ok = usable & transitions[0]  # what may follow `O` (tag 0) may start a turn: no I- tags
    best = torch.where(start_ok, scores[0], blocked)
    back: list[torch.Tensor] = []
    for t in range(1, scores.shape[0]):
        candidates = torch.where(step_ok, best.unsqueeze(1), blocked)  # [from, to]
        best, came_from = candidates.max(dim=0)
        best = best + scores[t]
        back.append(came_from)
    path = [int(best.argmax())]
    for came_from in reversed(back):
        path.append(int(came_from[path[-1]]))
    return path[::-1]


def slots_from_tags(words: Sequence[str], path: Sequence[int], tags: Sequence[str]) -> dict[str, str]:
    """The words of each tagged span as typed; a slot named twice keeps its first value."""
    slots: dict[str, str] = {}
    current: tuple[str, list[str]] | None = None
    for word, tag in zip(words, (tags[i] for i in path)):
        if tag.startswith("I-") and current is not None and current[0] == tag[2:]:
            current[1].append(word)
            continue
        if current is not None:
            slots.setdefault(current[0], " ".join(current[1]))
        current = (tag[2:], [word]) if tag.startswith("B-") else None
    if current is not None:
        slots.setdefault(current[0], " ".join(current[1]))
    return slots
