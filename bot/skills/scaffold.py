"""`bot new`: a new skill folder, empty or built from a data set in any supported format."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from bot.config import SkillConfig
from bot.config.skill import NAME_PATTERN
from bot.errors import ConfigError, DataError
from bot.skills.examples import save_examples, validate_examples
from bot.skills.importers import dedupe_examples, read_dataset, schema_from_examples
from bot.skills.skill import CONFIG_FILE, EXAMPLES_FILE
from bot.types import Example

__all__ = ["human_words", "scaffold_skill"]

STARTER = [
    Example(text="hello there", intent="greet"),
    Example(text="good morning", intent="greet"),
]
SHOWN_INTENTS = 20  # how many intent names an --only error lists

# A word boundary inside an identifier: "timeRange" -> "time Range", "GetUVIndex" -> "Get UV Index".
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[_.\-\s]+")


def human_words(name: str) -> str:
    """An identifier as lower-case words: 'AddToPlaylist' -> 'add to playlist', 'alarm_set' -> 'alarm set'."""
    return " ".join(_SEPARATORS.sub(" ", _CAMEL.sub(" ", name)).split()).lower()


def scaffold_skill(root: Path, *, name: str, data: Path | None = None, split: str | None = None,
                   description: str = "", only: str | None = None,
                   attribution: str | None = None) -> Path:
    """Write skill.yaml + examples.jsonl; refuses to overwrite an existing skill.

    `only` keeps the examples whose intent matches a glob ('alarm_*') or one of comma-separated
    globs ('alarm_*,weather_*'); `attribution` (e.g. a CC BY notice) heads skill.yaml as a comment.
    """
    root = Path(root)
    _check_name(name)
    if (root / CONFIG_FILE).exists():
        raise ConfigError(root / CONFIG_FILE, "a skill already exists here", fix="pick another NAME or --dir")
    examples = read_dataset(data, split=split) if data else list(STARTER)
    if only is not None:
        examples = _only_intents(examples, only, where=data or root / EXAMPLES_FILE)
    examples = dedupe_examples(examples)
    config = _draft_config(name, description, examples, source=data or root / EXAMPLES_FILE)
    validate_examples(examples, config, data or root / EXAMPLES_FILE)
    root.mkdir(parents=True, exist_ok=True)
    (root / CONFIG_FILE).write_text(_comment(attribution) + _skill_yaml(config), encoding="utf-8")
    save_examples(root / EXAMPLES_FILE, examples)
    return root


def _check_name(name: str) -> None:
    """A skill's name is its folder's and the router's label: refused before anything is written."""
    if re.fullmatch(NAME_PATTERN, name):
        return
    suggestion = "_".join(re.findall(r"[A-Za-z0-9]+", name)).lower()
    if not suggestion[:1].isalpha():
        suggestion = f"skill_{suggestion}".rstrip("_")
    raise ConfigError("bot new", f"{name!r} is not a skill name", field="NAME",
                      fix=f"names start with a letter and hold only letters, digits, '_', '.' and '-': "
                      f"bot new {suggestion} --description {shlex.quote(name)}")


def _draft_config(name: str, description: str, examples: Sequence[Example], *, source: Path) -> SkillConfig:
    try:
        return _draft(name, description, examples)
    except ValidationError as err:  # data a reader let through that no skill.yaml accepts
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise DataError(source, f"the skill drafted from it is invalid at '{where}': {first['msg']}",
                        field=where, fix="correct that name or value in the data set") from None


def _draft(name: str, description: str, examples: Sequence[Example]) -> SkillConfig:
    intents, slots = schema_from_examples(examples)
    carried = {i: set() for i in intents}  # the slots each intent's examples carry: its own list
    for example in examples:
        carried[example.intent] |= set(example.slots)
    return SkillConfig(name=name, description=description or f"The {name} skill.",
                       intents=[{"name": i, "description": human_words(i),
                                 "slots": [s for s in slots if s in carried[i]] if slots else None}
                                for i in intents],
                       slots=[{"name": s, "description": human_words(s)} for s in slots])


# ---------------------------------------------------------------- --only


def _only_intents(examples: Sequence[Example], only: str, *, where: Path) -> list[Example]:
    """The examples whose intent matches a glob of `only`; every glob must match some intent,
    so a misspelt one fails loudly instead of quietly leaving its intents out."""
    patterns = [part.strip() for part in only.split(",") if part.strip()]
    if not patterns:
        raise DataError(where, f"--only {only!r} names no intent pattern",
                        fix="give a glob such as 'alarm_*', or several separated by commas")
    names = sorted({example.intent for example in examples})
    for pattern in patterns:
        if not any(fnmatchcase(name, pattern) for name in names):
            raise DataError(where, f"--only pattern {pattern!r} matches no intent of the data",
                            fix=f"use a glob on these intent names (case matters): {_listing(names)}")
    return [e for e in examples if any(fnmatchcase(e.intent, p) for p in patterns)]


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_INTENTS]) or "(none)"
    hidden = len(names) - SHOWN_INTENTS
    return shown + (f" and {hidden} more" if hidden > 0 else "")


# ---------------------------------------------------------------- skill.yaml text


def _skill_yaml(config: SkillConfig) -> str:
    """The config as YAML without fields that only repeat their default (tuning included)."""
    raw = _fields(config, keep=("name", "description", "mode"), drop={"intents", "slots", "tuning"})
    raw["intents"] = [_fields(intent) for intent in config.intents]
    if config.slots:
        raw["slots"] = [_fields(slot) for slot in config.slots]
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def _fields(model: BaseModel, *, keep: Iterable[str] = ("name", "description"),
            drop: set[str] | None = None) -> dict:
    """`keep` always (in that order), then every other field that differs from its default."""
    kept = model.model_dump(mode="json", include=set(keep))
    changed = model.model_dump(mode="json", exclude_defaults=True, exclude=drop)
    return {**{key: kept[key] for key in keep}, **changed}


def _comment(text: str | None) -> str:
    """`text` as YAML comment lines (blank lines kept as a bare '#'), or nothing."""
    if not text or not text.strip():
        return ""
    lines = text.strip().splitlines()
    return "".join(f"# {line}".rstrip() + "\n" for line in lines) + "\n"
