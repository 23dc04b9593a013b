"""A chatbot framework: one frozen LLM, one small learned table per skill.

    from bot import Bot

    bot = Bot.load()
    print(bot.reply("c1", "set an alarm for 7 am").text)

The names below are the public surface (`__all__`, pinned by tests/test_api.py). They are imported
on first use, so `import bot.types` (or `bot new`) does not load torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import Bot
    from bot.config.settings import BotSettings
    from bot.errors import BotError, ConfigError, DataError, ModelLoadError, TableMismatchError
    from bot.types import Frame, Reply, Turn

__all__ = ["Bot", "BotError", "BotSettings", "ConfigError", "DataError", "Frame", "ModelLoadError", "Reply",
           "TableMismatchError", "Turn"]

_HOMES = {"Bot": "bot.app", "BotSettings": "bot.config.settings", "BotError": "bot.errors",
          "ConfigError": "bot.errors", "DataError": "bot.errors", "ModelLoadError": "bot.errors",
          "TableMismatchError": "bot.errors", "Frame": "bot.types", "Reply": "bot.types", "Turn": "bot.types"}


def __getattr__(name: str) -> object:
    """`bot.Bot` and the other public names, imported when first asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
