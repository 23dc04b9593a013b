"""Pydantic models for skill and bot configuration, loaded from YAML."""

from bot.config.skill import (
    IntentConfig,
    PromptMode,
    SkillConfig,
    SlotConfig,
    TableMethod,
    TuningConfig,
    load_skill_config,
)

__all__ = [
    "IntentConfig",
    "PromptMode",
    "SkillConfig",
    "SlotConfig",
    "TableMethod",
    "TuningConfig",
    "load_skill_config",
]
