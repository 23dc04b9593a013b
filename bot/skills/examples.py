"""A skill's examples file (JSONL): read it, check it against `skill.yaml`, write it back.

One example a line: `{"text": ..., "intent": ..., "slots": {"name": "value"}}` (slots optional).
Slot values must be whole words copied from the text, because the runtime reads slot values
back as word spans of the user's text; that rule lives in `bot.skills.frame_text`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.config.skill import SkillConfig
from bot.errors import DataError
from bot.skills.frame_text import find_value_span
from bot.types import Example

__all__ = [
    "find_value_span",  # bot.skills.frame_text's, kept here for its importers
    "load_examples",
    "load_examples_with_lines",
    "save_examples",
    "text_key",
    "validate_examples",
]

FIELDS = ("text", "intent", "slots")
_LINE_FIX = ('write one JSON object a line, '
             'e.g. {"text": "play jazz", "intent": "Play", "slots": {}}')


def text_key(text: str) -> str:
    """The form under which two texts count as the same: single spaces, case folded."""
    return " ".join(text.split()).casefold()


def load_examples(path: Path) -> list[Example]:
    """Read a skill's JSONL examples; any bad line raises DataError naming line and field."""
    return load_examples_with_lines(path)[0]


def load_examples_with_lines(path: Path) -> tuple[list[Example], list[int]]:
    """Like `load_examples`, plus each example's line number (to pass to `validate_examples`)."""
    path = Path(path)
    examples: list[Example] = []
    numbers: list[int] = []
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        if line.strip():
            examples.append(_parse_line(path, number, line))
            numbers.append(number)
    return examples, numbers


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(path, "examples file not found",
                        fix="create it, or import one with `read_dataset`")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text ({err.reason} at byte {err.start})",
                        fix="save the file as UTF-8") from None


def _parse_line(path: Path, number: int, line: str) -> Example:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON ({err.msg}, column {err.colno})",
                        line=number, fix=_LINE_FIX) from None
    if not isinstance(raw, dict):
        raise DataError(path, f"expected a JSON object, got {type(raw).__name__}",
                        line=number, fix=_LINE_FIX)
    _check_fields(path, number, raw)
    try:
        return Example.model_validate(raw)
    except ValidationError as err:  # pragma: no cover - _check_fields catches the known shapes
        raise DataError(path, err.errors()[0]["msg"], line=number, fix=_LINE_FIX) from None


def _check_fields(path: Path, number: int, raw: dict) -> None:
    """Name the exact field that is missing, extra or of the wrong type."""
    for name in raw:
        if name not in FIELDS:
            raise DataError(path, "unknown field", line=number, field=name,
                            fix=f"remove it or correct its spelling (allowed: {', '.join(FIELDS)})")
    for name in ("text", "intent"):
        if name not in raw:
            raise DataError(path, "missing", line=number, field=name,
                            fix=f'add "{name}": "..."')
        if not isinstance(raw[name], str):
            raise DataError(path, f"expected a string, got {_json_type(raw[name])}",
                            line=number, field=name, fix="write the value in double quotes")
    _check_slots(path, number, raw.get("slots", {}))


def _check_slots(path: Path, number: int, slots: object) -> None:
    if not isinstance(slots, dict):
        raise DataError(path, f"expected an object, got {_json_type(slots)}", line=number,
                        field="slots", fix='write slots as {"slot_name": "words from the text"}')
    for name, value in slots.items():
        if not isinstance(value, str):
            raise DataError(path, f"expected a string, got {_json_type(value)}", line=number,
                            field=f"slots.{name}", fix="write the value as the words, in quotes")


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", bool: "true/false", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def validate_examples(examples: Sequence[Example], config: SkillConfig, source: str | Path,
                      lines: Sequence[int] | None = None) -> None:
    """Check examples against the skill; the first problem raises DataError.

    `source` names the file in messages; `lines` (from `load_examples_with_lines`) gives
    each example's line number, otherwise messages count examples from 1.
    """
    if lines is not None and len(lines) != len(examples):
        raise ValueError(f"got {len(lines)} line numbers for {len(examples)} examples")
    numbers = list(lines) if lines is not None else range(1, len(examples) + 1)
    places = [_Place(source, number, lines is not None) for number in numbers]
    intent_slots = {name: set(slots) for name, slots in config.intent_slots.items()}
    slots = set(config.slot_names)
    for example, place in zip(examples, places):
        _check_example(example, place, intent_slots, slots)
    _check_duplicates(examples, places)


@dataclass(frozen=True)
class _Place:
    """Where an example is: a line of a file, or (when lines are unknown) its position."""

    source: str | Path
    number: int
    is_line: bool

    @property
    def name(self) -> str:
        return f"line {self.number}" if self.is_line else f"example {self.number}"

    def error(self, problem: str, *, field: str, fix: str) -> DataError:
        if self.is_line:
            return DataError(self.source, problem, line=self.number, field=field, fix=fix)
        return DataError(self.source, f"{self.name}: {problem}", field=field, fix=fix)


def _check_example(example: Example, where: _Place, intent_slots: dict[str, set[str]], slots: set[str]) -> None:
    if not example.text.strip():
        raise where.error("text is empty", field="text",
                          fix="write what the user says, or delete the example")
    if example.intent not in intent_slots:
        raise where.error(f"unknown intent '{example.intent}'", field="intent",
                          fix=_known_fix("intent", example.intent, set(intent_slots)))
    for name, value in example.slots.items():
        if name not in slots:
            raise where.error(f"unknown slot '{name}'", field=f"slots.{name}",
                              fix=_known_fix("slot", name, slots))
        if name not in intent_slots[example.intent]:
            raise where.error(f"slot '{name}' is not one of intent '{example.intent}''s slots",
                              field=f"slots.{name}",
                              fix=f"add '{name}' to the slots of intent '{example.intent}' in skill.yaml, "
                                  "or fix the example")
        _check_value(example.text, name, value, where)


def _known_fix(kind: str, name: str, known: set[str]) -> str:
    names = sorted(known)
    shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    listing = f"use one of: {shown}; or " if names else ""
    return f"{listing}add '{name}' under '{kind}s' in skill.yaml"


def _check_value(text: str, name: str, value: str, where: _Place) -> None:
    field = f"slots.{name}"
    if not value.strip():
        raise where.error("slot value is empty", field=field,
                          fix="remove the slot, or write the words from the text it stands for")
    if value != " ".join(value.split()):
        raise where.error(f"slot value {value!r} has extra spaces", field=field,
                          fix="write the value with single spaces and none at the ends")
    if find_value_span(text, value) is None:
        raise where.error(f"slot value {value!r} is not a run of whole words of the text",
                          field=field,
                          fix="copy the value word for word from the text (same case and "
                              "punctuation, whole words only)")


def _check_duplicates(examples: Sequence[Example], places: list[_Place]) -> None:
    first: dict[str, _Place] = {}
    for example, place in zip(examples, places):
        earlier = first.setdefault(text_key(example.text), place)
        if earlier is not place:
            raise place.error(f"same text as {earlier.name} (duplicates ignore case and spacing)",
                              field="text", fix=f"delete {earlier.name} or {place.name}")


def save_examples(path: Path, examples: Sequence[Example]) -> None:
    """Write examples as JSONL (UTF-8, not escaped), replacing the file in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="\n") as out:
        for example in examples:
            out.write(json.dumps(example.model_dump(), ensure_ascii=False) + "\n")
    os.replace(partial, path)
