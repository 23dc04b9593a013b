"""Scripted conversations: a YAML file of dialogues, each turn with what the bot should make of it.

    dialogues:
    - name: alarm, then the weather, then back
      category: digression          # any word; the report gives accuracy per category
      turns:
      - user: i need an alarm
        skill: alarm                 # the skill that answers; `skill: null` means the fallback
        intent: alarm_set
      - user: how's the weather in rome
        skill: weather
        slots: {place_name: rome}    # these slots must be in the reply's frame (others may be too)
        reply: "(?i)back to"         # a regular expression searched for in the reply

Every expectation is optional: a turn checks only what it states. A turn passes when all of its
checks pass, a dialogue when all of its turns pass. Slot values compare case-insensitively with
whitespace collapsed. Each dialogue runs in its own conversation and as its own user.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import ConfigError

__all__ = ["Dialogue", "DialogueSet", "ScriptTurn", "load_dialogues"]


class ScriptTurn(BaseModel):
    """One user message and what is expected of the reply; unset fields are not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    skill: str | None = None
    intent: str | None = None
    slots: dict[str, str] | None = None
    reply: str | None = None  # a regular expression, searched in the reply text

    @field_validator("reply")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"reply pattern {pattern!r} is not a regular expression: {err}") from None
        return pattern

    @field_validator("slots", mode="before")
    @classmethod
    def _values_as_text(cls, slots: Any) -> Any:
        """YAML reads `time: 7` as a number; a slot value is always text."""
        if isinstance(slots, dict):
            return {key: str(value) for key, value in slots.items()}
        return slots

    @property
    def checks_skill(self) -> bool:
        """True if the script names the skill, `skill: null` (the fallback) included."""
        return "skill" in self.model_fields_set


class Dialogue(BaseModel):
    """A named conversation of one category."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    turns: list[ScriptTurn] = Field(min_length=1)


class DialogueSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dialogues: list[Dialogue] = Field(min_length=1)

    @field_validator("dialogues")
    @classmethod
    def _unique_names(cls, dialogues: list[Dialogue]) -> list[Dialogue]:
        seen: set[str] = set()
        for dialogue in dialogues:
            if dialogue.name in seen:
                raise ValueError(f"dialogue name {dialogue.name!r} appears twice; names must be unique")
            seen.add(dialogue.name)
        return dialogues


def load_dialogues(path: Path) -> DialogueSet:
    """Read and validate a dialogue file; a problem names the file, line, field and fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "file not found", fix="give the path of a dialogue YAML file")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(path, f"not valid YAML ({getattr(err, 'problem', err)})",
                          line=mark.line + 1 if mark is not None else None,
                          fix="check indentation and quoting on that line") from None
    try:
        return DialogueSet.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise ConfigError(path, first["msg"], line=_line_of(text, first["loc"]),
                          field=".".join(map(str, first["loc"])) or None,
                          fix="see the format in bot/dialogue/scripts.py's docstring") from None


def _line_of(text: str, loc: tuple) -> int | None:
    """The line of the deepest YAML node on the error's path that exists."""
    node, line = yaml.compose(text), None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if k.value == part]
            if not found:
                break
            line, node = found[0][0].start_mark.line + 1, found[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
