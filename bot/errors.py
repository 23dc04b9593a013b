"""Errors the framework raises on purpose, each telling the user where and how to fix it."""

from __future__ import annotations

__all__ = ["BotError", "ConfigError", "DataError", "TableMismatchError", "ModelLoadError"]


class BotError(Exception):
    """Base of every error the framework raises for bad input or state."""


class ConfigError(BotError):
    """A config or data file is wrong: names the file, the place, the field and the fix."""

    def __init__(self, path: object, problem: str, *, line: int | None = None,
                 field: str | None = None, fix: str | None = None) -> None:
        self.path, self.line, self.field, self.problem, self.fix = str(path), line, field, problem, fix
        where = self.path + (f":{line}" if line is not None else "")
        text = f"{where}: {problem}"
        if field:
            text = f"{where}: field '{field}': {problem}"
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)


class DataError(ConfigError):
    """An example or data set file is wrong (same shape of message as ConfigError)."""


class TableMismatchError(BotError):
    """A virtual-token table was trained for other base-model weights than the loaded ones."""


class ModelLoadError(BotError):
    """The base model could not be found or loaded."""
