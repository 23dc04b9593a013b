"""Bot-wide settings: `configs/default.yaml` (or `--config`), overridden by `BOT_*` variables."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.config.server import ServerConfig
from bot.errors import ConfigError

__all__ = ["BotSettings", "StoreConfig", "load_settings"]


class StoreConfig(BaseModel):
    """Where conversations live: `memory` (one process) or `redis` (several workers)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["memory", "redis"] = "memory"
    url: str | None = None  # default: $REDIS_URL, else redis://localhost:6379/0
    key_prefix: str = "bot:"
    expiry_seconds: int = Field(default=86400, ge=1)


class BotSettings(BaseModel):
    """Which base model to load, where skills live, how conversations are kept."""

    model_config = ConfigDict(extra="forbid")

    model: str = "default"
    skills_dir: Path = Path("skills")
    device: str = "cpu"
    store: StoreConfig = Field(default_factory=StoreConfig)
    fallback_reply: str = "Sorry, I can't help with that yet."
    min_route_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    out_of_scope_examples: Path | None = None  # texts the router learns to send to the fallback
    server: ServerConfig = Field(default_factory=ServerConfig)  # `bot serve`


ENVIRONMENT = {"model": "BOT_MODEL", "skills_dir": "BOT_SKILLS_DIR", "device": "BOT_DEVICE"}


def load_settings(path: Path | None = None) -> BotSettings:
    """Read the YAML file if there is one; environment variables win over it."""
    raw: dict = {}
    if path is not None and Path(path).is_file():
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise ConfigError(path, "expected a mapping of settings", fix="see configs/default.yaml")
    raw.update({field: os.environ[var] for field, var in ENVIRONMENT.items() if os.environ.get(var)})
    try:
        return BotSettings.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise ConfigError(path or "environment", first["msg"], field=".".join(map(str, first["loc"])),
                          fix="correct the value (see configs/default.yaml)") from None
