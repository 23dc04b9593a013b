"""Bot-wide settings: one `BotSettings`, read from a YAML file and the environment (pydantic-settings).

Precedence, highest first (one tuple, `BotSettings.settings_customise_sources`):
  1. values given in code or on the command line (`--model`, `--device`, `Bot.load(model=...)`),
  2. environment variables (`ENVIRONMENT` below: BOT_MODEL, REDIS_URL, SLACK_*, ...),
  3. the YAML file (`--config PATH`; the command line's default is configs/default.yaml if present),
  4. the defaults written here.
Relative paths in the YAML file (and the default `skills_dir`, when a file is given) are read from
the file's folder; relative paths from the environment or the command line, from the working
directory.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config.dialogue import DialogueSettings
from bot.config.server import ServerConfig, SlackSecrets
from bot.config.skill import _line_of
from bot.config.store import StoreSettings
from bot.errors import ConfigError

__all__ = ["DEFAULT_CONFIG", "ENVIRONMENT", "BotSettings", "load_settings"]

DEFAULT_CONFIG = Path("configs/default.yaml")

# variable -> the field it sets (a path into BotSettings); an empty variable counts as unset
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "BOT_MODEL": ("model",),
    "BOT_SKILLS_DIR": ("skills_dir",),
    "BOT_DEVICE": ("device",),
    "BOT_DTYPE": ("dtype",),
    "BOT_CACHE_DIR": ("cache_dir",),
    "BOT_STORE": ("store", "kind"),
    "REDIS_URL": ("store", "url"),
    "SLACK_SIGNING_SECRET": ("slack_secrets", "signing_secret"),
    "SLACK_BOT_TOKEN": ("slack_secrets", "bot_token"),
    "SLACK_APP_TOKEN": ("slack_secrets", "app_token"),
}
# resolved from the YAML file's folder when relative
PATH_FIELDS = (("skills_dir",), ("out_of_scope_examples",), ("cache_dir",), ("server", "api_keys_file"))
ENV_ONLY = ("slack_secrets",)  # secrets never live in a file

_config_file: ContextVar[Path | None] = ContextVar("bot_config_file", default=None)


class BotSettings(BaseSettings):
    """Which base model to load, where skills live, how conversations are kept and served."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    model: str = "default"  # "default" (the embedded SmolLM2), a Hugging Face id or a local folder
    skills_dir: Path = Path("skills")
    device: str = "cpu"
    # the frozen model's weights: "auto" is bfloat16 where the hardware multiplies it fast (CUDA,
    # AVX-512 BF16 or AMX CPUs; reads about 2x faster, the same frames), else float32
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    cache_dir: Path | None = None  # where the converted default model is kept (None: ~/.cache/bot)
    store: StoreSettings = Field(default_factory=StoreSettings)
    fallback_reply: str = "Sorry, I can't help with that yet."
    min_route_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    out_of_scope_examples: Path | None = None  # texts the router learns to send to the fallback
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)  # the digression policy's thresholds
    server: ServerConfig = Field(default_factory=ServerConfig)  # `bot serve`
    slack_secrets: SlackSecrets = Field(default_factory=SlackSecrets, exclude=True, repr=False)  # SLACK_* only

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, EnvironmentSource(settings_cls), YamlFileSource(settings_cls)


class EnvironmentSource(PydanticBaseSettingsSource):
    """The variables of `ENVIRONMENT`, each set into its field (nested ones such as store.url too)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ builds the whole mapping

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for variable, path in ENVIRONMENT.items():
            if os.environ.get(variable):
                _set(values, path, os.environ[variable])
        return values


class YamlFileSource(PydanticBaseSettingsSource):
    """The YAML file `load_settings` was given (none: nothing), its relative paths made absolute."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        return {} if path is None else read_yaml(path)


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's settings as a mapping; a syntax error, a non-mapping or a secret is a ConfigError."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(path, f"not valid YAML ({getattr(err, 'problem', err)})",
                          line=mark.line + 1 if mark is not None else None,
                          fix="check indentation and quoting on that line") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, "expected a mapping of settings", fix="see configs/default.yaml")
    for key in ENV_ONLY:
        if key in raw:
            raise ConfigError(path, "Slack's tokens are read from the environment only", line=_line_of(text, (key,)),
                              field=key, fix="remove it; export SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_APP_TOKEN")
    folder = Path(path).parent
    raw.setdefault("skills_dir", os.path.normpath(folder / "skills"))  # the default, also from the file's folder
    for path_ in PATH_FIELDS:
        parent = raw
        for key in path_[:-1]:
            parent = parent.get(key) if isinstance(parent.get(key), dict) else {}
        value = parent.get(path_[-1])
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            parent[path_[-1]] = os.path.normpath(folder / value)
    return raw


def load_settings(path: Path | str | None = None, **overrides: Any) -> BotSettings:
    """Settings from `path` (None: no file), the environment and `overrides` (None values are skipped).

    A `path` that does not exist, a bad value or an unknown field is one ConfigError naming where
    the value came from (the file and line, or the variable) and the field.
    """
    file = Path(path) if path is not None else None
    if file is not None and not file.is_file():
        raise ConfigError(file, "config file not found",
                          fix="pass an existing file with --config (the project ships configs/default.yaml)")
    given = {key: value for key, value in overrides.items() if value is not None}
    token = _config_file.set(file)
    try:
        return BotSettings(**given)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        where, line = _source_of(loc, file, set(given))
        raise ConfigError(where, first["msg"], line=line, field=".".join(map(str, loc)) or None,
                          fix=_fix(first)) from None
    finally:
        _config_file.reset(token)


def _source_of(loc: tuple, file: Path | None, given: set[str]) -> tuple[str, int | None]:
    """Which source set the field at `loc`, by the precedence above (for the error's first words)."""
    if loc and loc[0] in given:
        return "command line", None
    for variable, path in ENVIRONMENT.items():
        if os.environ.get(variable) and tuple(loc[:len(path)]) == path:
            return f"environment variable {variable}", None
    if file is not None:
        return str(file), _line_of(file.read_text(encoding="utf-8"), loc)
    return "settings", None


def _fix(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "remove the field or correct its spelling (the fields: see configs/default.yaml)"
    return "correct the value (see configs/default.yaml)"


def _set(values: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    for key in path[:-1]:
        values = values.setdefault(key, {})
    values[path[-1]] = value
