"""A skill on disk: `skills/<name>/skill.yaml`, `examples.jsonl`, and `table/` once tuned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import SkillConfig, load_skill_config
from bot.errors import ConfigError
from bot.skills.examples import load_examples_with_lines, validate_examples
from bot.types import Example

__all__ = ["Skill", "load_skill"]

CONFIG_FILE = "skill.yaml"
EXAMPLES_FILE = "examples.jsonl"
TABLE_DIR = "table"


@dataclass
class Skill:
    """A skill's folder with its validated config; examples are read on demand."""

    root: Path
    config: SkillConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def examples_path(self) -> Path:
        return self.root / EXAMPLES_FILE

    @property
    def table_dir(self) -> Path:
        return self.root / TABLE_DIR

    def examples(self) -> list[Example]:
        """The skill's own examples, validated against its schema."""
        if not self.examples_path.is_file():
            raise ConfigError(self.examples_path, "no examples", fix="add examples.jsonl (one JSON object a line)")
        examples, lines = load_examples_with_lines(self.examples_path)
        validate_examples(examples, self.config, self.examples_path, lines)
        return examples


def load_skill(path: Path) -> Skill:
    """Open `path` (the skill folder or its skill.yaml) and validate the config."""
    path = Path(path)
    root = path.parent if path.name == CONFIG_FILE else path
    if not root.is_dir():
        raise ConfigError(root, "skill folder not found", fix="pass a folder such as skills/<name>")
    return Skill(root=root, config=load_skill_config(root / CONFIG_FILE))
