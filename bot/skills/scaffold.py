"""`bot new`: a new skill folder, empty or built from a data set in any supported format."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.config import SkillConfig
from bot.errors import ConfigError
from bot.skills.examples import save_examples, validate_examples
from bot.skills.importers import dedupe_examples, read_dataset, schema_from_examples
from bot.skills.skill import CONFIG_FILE, EXAMPLES_FILE
from bot.types import Example

__all__ = ["scaffold_skill"]

STARTER = [
    Example(text="hello there", intent="greet"),
    Example(text="good morning", intent="greet"),
]


def scaffold_skill(root: Path, *, name: str, data: Path | None = None, split: str | None = None,
                   description: str = "") -> Path:
    """Write skill.yaml + examples.jsonl; refuses to overwrite an existing skill."""
    root = Path(root)
    if (root / CONFIG_FILE).exists():
        raise ConfigError(root / CONFIG_FILE, "a skill already exists here", fix="pick another NAME or --dir")
    examples = dedupe_examples(read_dataset(data, split=split)) if data else list(STARTER)
    intents, slots = schema_from_examples(examples)
    config = SkillConfig(name=name, description=description or f"The {name} skill.",
                         intents=[{"name": i, "description": i.replace("_", " ")} for i in intents],
                         slots=[{"name": s, "description": s.replace("_", " ")} for s in slots])
    validate_examples(examples, config, data or root / EXAMPLES_FILE)
    root.mkdir(parents=True, exist_ok=True)
    raw = config.model_dump(mode="json", exclude={"tuning"})
    (root / CONFIG_FILE).write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    save_examples(root / EXAMPLES_FILE, examples)
    return root
