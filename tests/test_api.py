"""The public surface: `from bot import ...` is exactly this, typed, and light to import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import bot
from bot import Bot

PUBLIC = ["Bot", "BotError", "BotSettings", "ConfigError", "DataError", "Frame", "ModelLoadError", "Reply",
          "TableMismatchError", "Turn"]
BOT_METHODS = {
    "load": "(skills: 'str | Path | None' = None, config: 'str | Path | None' = PosixPath('configs/default.yaml'), "
            "*, model: 'str | None' = None, device: 'str | None' = None) -> 'Bot'",
    "reply": "(self, conversation_id: 'str', text: 'str', *, user_id: 'str | None' = None, "
             "turn_id: 'str | None' = None) -> 'Reply'",
    "areply": "(self, conversation_id: 'str', text: 'str', *, user_id: 'str | None' = None, "
              "turn_id: 'str | None' = None) -> 'Reply'",
    "stream": "(self, conversation_id: 'str', text: 'str', *, user_id: 'str | None' = None, "
              "turn_id: 'str | None' = None) -> 'Iterator[str]'",
    "astream": "(self, conversation_id: 'str', text: 'str', *, user_id: 'str | None' = None, "
               "turn_id: 'str | None' = None) -> 'AsyncIterator[str]'",
    "read": "(self, text: 'str', skill: 'str | None' = None) -> 'Frame'",
}


def test_all_is_the_pinned_public_surface():
    assert bot.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(bot, name).__name__ == name
    assert sorted(set(dir(bot)) & set(PUBLIC)) == PUBLIC


def test_unknown_names_are_an_attribute_error():
    try:
        bot.Nope  # noqa: B018
    except AttributeError as err:
        assert "no attribute 'Nope'" in str(err)
    else:
        raise AssertionError("bot.Nope resolved")


def test_bot_methods_keep_their_signatures():
    for name, signature in BOT_METHODS.items():
        assert str(inspect.signature(getattr(Bot, name))) == signature, name
    assert inspect.iscoroutinefunction(Bot.areply) and inspect.isasyncgenfunction(Bot.astream)
    assert isinstance(Bot.skills, property)
    for name in ("load", "reply", "areply", "stream", "astream", "read"):
        assert getattr(Bot, name).__doc__, name


def test_importing_bot_loads_no_model_library():
    code = "import sys, bot, bot.types, bot.config.settings; from bot import Bot; " \
           "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
