"""Prompt text for each prompting mode; the frame format itself is in `bot.model.decoding`.

Every mode is a fixed prefix (instructions, examples) that is cached once per skill, followed by
the turn's own few tokens. A tuned skill's table replaces the instructions entirely.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bot.config import PromptMode, SkillConfig
from bot.types import Example

__all__ = [
    "frame_text", "ordered_slots", "pick_demonstrations", "prompt_prefix", "reasoning_text", "turn_text",
]


def frame_text(intent: str, slots: dict[str, str], text: str) -> str:
    """The frame as the model writes it, e.g. ` PlayMusic | miles davis = artist`."""
    ordered = ordered_slots(text, slots)
    return " " + intent + "".join(f" | {value} = {name}" for name, value, _ in ordered)


def ordered_slots(text: str, slots: dict[str, str]) -> list[tuple[str, str, int]]:
    """(name, value, first word) in reading order, each value placed after the one before it,
    as the decoder reads them; a repeated value ("6 out of 6") takes its next occurrence."""
    words, left, placed, cursor = text.split(), dict(slots), [], 0
    while left:
        found = {name: _span_start(words, value.split(), cursor) for name, value in left.items()}
        name = min(left, key=lambda n: (found[n] is None, found[n] or 0))  # ties keep the given order
        start = found[name]
        value = left.pop(name)
        if start is None:  # not after the others: kept, but the decoder could not produce it
            placed.append((name, value, len(words)))
            continue
        placed.append((name, value, start))
        cursor = start + len(value.split())
    return placed


def _span_start(words: list[str], wanted: list[str], cursor: int) -> int | None:
    for start in range(cursor, len(words) - len(wanted) + 1):
        if wanted and words[start:start + len(wanted)] == wanted:
            return start
    return None


def reasoning_text(example: Example, config: SkillConfig) -> str:
    """A one-line explanation that leads to the frame (the chain-of-thought demonstrations)."""
    described = config.intent(example.intent).description or example.intent.replace("_", " ")
    parts = [f"the user wants to {described.rstrip('.').lower()}"]
    parts += [f"'{value}' is the {name.replace('_', ' ')}" for name, value in example.slots.items()]
    return " " + "; ".join(parts) + "."


def turn_text(text: str, mode: PromptMode) -> str:
    """The per-turn part of the prompt; the decoder continues right after it."""
    lead = "Reasoning:" if mode == PromptMode.chain_of_thought else "Frame:"
    return f"Message: {text}\n{lead}"


def prompt_prefix(config: SkillConfig, mode: PromptMode, demonstrations: Sequence[Example]) -> str:
    """The fixed text before every turn: empty for a tuned table, else instructions (+ examples)."""
    if mode == PromptMode.tuned:
        return ""
    lines = [_instructions(config)]
    for example in demonstrations if mode != PromptMode.zero_shot else ():
        frame = frame_text(example.intent, example.slots, example.text)
        if mode == PromptMode.chain_of_thought:
            lines.append(f"Message: {example.text}\nReasoning:{reasoning_text(example, config)}\nFrame:{frame}\n")
        else:
            lines.append(f"Message: {example.text}\nFrame:{frame}\n")
    return "\n".join(lines) + "\n"


def _instructions(config: SkillConfig) -> str:
    intents = "\n".join(f"- {i.name}: {i.description}".rstrip(": ") for i in config.intents)
    slots = "\n".join(f"- {s.name}: {s.description}".rstrip(": ") for s in config.slots) or "- (none)"
    return (
        f"{config.description or config.name}\n"
        "Read the user's message. Write its intent, then each slot found in it, in order, as "
        "'| words copied from the message = slot'.\n"
        f"Intents:\n{intents}\nSlots:\n{slots}\n"
    )


def pick_demonstrations(examples: Sequence[Example], count: int) -> list[Example]:
    """Up to `count` examples, cycling through intents so that each appears (deterministic)."""
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in sorted(examples, key=lambda e: (-len(e.slots), len(e.text), e.text)):
        by_intent[example.intent].append(example)
    chosen: list[Example] = []
    while len(chosen) < count and any(by_intent.values()):
        for intent in sorted(by_intent):
            if by_intent[intent] and len(chosen) < count:
                chosen.append(by_intent[intent].pop(0))
    return chosen
