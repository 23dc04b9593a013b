"""Prompt text for each prompting mode; the frame format itself is in `bot.skills.frame_text`.

Every mode is a fixed prefix (instructions, examples) that is cached once per skill, followed by
the turn's own few tokens. A tuned skill's table replaces the instructions entirely.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bot.config import PromptMode, SkillConfig
from bot.skills.frame_text import frame_text, ordered_slots
from bot.types import Example

__all__ = [  # frame_text and ordered_slots are bot.skills.frame_text's, kept here for their importers
    "frame_text", "intent_words", "ordered_slots", "pick_demonstrations", "prompt_prefix", "reasoning_text",
    "turn_text",
]


def intent_words(config: SkillConfig, intent: str) -> str:
    """What an intent is, in words: its description, else its name."""
    return config.intent(intent).description or intent.replace("_", " ")


def reasoning_text(example: Example, config: SkillConfig) -> str:
    """A one-line explanation that leads to the frame (the chain-of-thought demonstrations)."""
    described = intent_words(config, example.intent)
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
