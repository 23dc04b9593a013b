"""The router skill: one tuned table whose intents are the bot's skills (and out-of-scope).

It is rebuilt from the skills' own examples whenever `bot tune --router` runs, so adding a skill
re-tunes this table only; every other skill's table stays as it is.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import yaml

from bot.config import SkillConfig, TuningConfig
from bot.skills.examples import save_examples
from bot.skills.skill import CONFIG_FILE, EXAMPLES_FILE, Skill, load_skill
from bot.types import Example

__all__ = ["OUT_OF_SCOPE", "ROUTER_DIR", "build_router", "list_skills"]

ROUTER_DIR = "_router"
OUT_OF_SCOPE = "out_of_scope"
PER_SKILL = 400  # balanced: a big skill must not drown a small one
ROUTER_MINUTES = 5.0
# An intent alone is read as well from layer 6 as from layer 12 (the tags need 12), and layers
# above the one read are never run: the router's read costs half (820 unseen HWU64 turns, seeds
# 0 / 1: layer 6 90.7 / 90.4 % against layer 12's 91.3 / 89.8 %; one read 23-27 ms against ~60).
ROUTER_LAYERS = [6]


def list_skills(skills_dir: Path) -> list[Skill]:
    """Every skill folder under `skills_dir` (folders starting with '_' are internal)."""
    folders = sorted(p for p in Path(skills_dir).iterdir() if (p / CONFIG_FILE).is_file())
    return [load_skill(p) for p in folders if not p.name.startswith("_")]


def build_router(skills: Sequence[Skill], out_of_scope: Sequence[str], skills_dir: Path, *,
                 seed: int = 0) -> Skill:
    """Write `skills/_router/` (config + examples) from the skills' examples and OOS texts."""
    rng = random.Random(seed)
    examples: list[Example] = []
    for skill in skills:
        own = skill.examples()
        chosen = rng.sample(own, min(PER_SKILL, len(own)))
        examples += [Example(text=e.text, intent=skill.name) for e in chosen]
    examples += [Example(text=t, intent=OUT_OF_SCOPE) for t in out_of_scope[:PER_SKILL]]
    examples = list({e.text.lower(): e for e in examples}.values())
    rng.shuffle(examples)
    intents = [{"name": s.name, "description": s.config.description} for s in skills]
    if out_of_scope:
        intents.append({"name": OUT_OF_SCOPE, "description": "anything none of the skills can do"})
    # a new skill re-tunes only this table, so its cap is what adding a skill costs on top of the skill's own
    config = SkillConfig(name="router", description="Which skill should answer the message.", intents=intents,
                         tuning=TuningConfig(max_minutes=ROUTER_MINUTES, eval_every=50,
                                             read_layers=ROUTER_LAYERS))
    root = Path(skills_dir) / ROUTER_DIR
    root.mkdir(parents=True, exist_ok=True)
    raw = config.model_dump(mode="json", exclude_defaults=True)
    (root / CONFIG_FILE).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    save_examples(root / EXAMPLES_FILE, examples)
    return load_skill(root)
