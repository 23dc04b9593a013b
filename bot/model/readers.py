"""Which reader serves a skill, and reading a batch of turns of any skills at once.

A tuned skill reads in one forward pass (`TunedReader`); the untuned prompting ladder writes its
frame with constrained decoding (`FrameReader`). A mixed batch runs each kind's rows together.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import PromptMode
from bot.model.reader import FrameReader, Reading, read_generative
from bot.model.runtime import Runtime
from bot.model.tables import load_table
from bot.model.tuned_reader import TunedReader, read_tuned
from bot.skills.prompts import pick_demonstrations
from bot.skills.skill import Skill
from bot.types import Example

__all__ = ["AnyReader", "read_mixed", "reader_for"]

AnyReader = FrameReader | TunedReader


def reader_for(runtime: Runtime, skill: Skill, mode: PromptMode | None = None, *,
               exclude: Sequence[str] = ()) -> AnyReader:
    """A reader for a skill on disk: its table when tuned, its examples as demonstrations."""
    mode = mode or skill.config.mode
    if mode == PromptMode.tuned:
        base = runtime.base
        table = load_table(skill.table_dir, fingerprint=base.fingerprint, width=runtime.width,
                           config=skill.config)
        return TunedReader(runtime, skill.config, table)
    demonstrations: list[Example] = []
    if mode in (PromptMode.few_shot, PromptMode.chain_of_thought):
        held_out = set(exclude)
        pool = [e for e in skill.examples() if e.text not in held_out]
        demonstrations = pick_demonstrations(pool, skill.config.few_shot_examples)
    return FrameReader(runtime, skill.config, mode, demonstrations=demonstrations)


def read_mixed(requests: Sequence[tuple[AnyReader, str]]) -> list[Reading]:
    """Read turns of different skills: all tuned rows in one pass, the untuned rows decoded together."""
    readings: list[Reading | None] = [None] * len(requests)
    for kind, read in ((TunedReader, read_tuned), (FrameReader, read_generative)):
        chosen = [i for i, (reader, _) in enumerate(requests) if isinstance(reader, kind)]
        for i, reading in zip(chosen, read([requests[i] for i in chosen]) if chosen else []):
            readings[i] = reading
    return readings
