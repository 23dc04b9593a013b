"""The seam a bot owner fills: what a weather or music provider offers, and how one is configured.

A provider is any object with these methods; name a factory for it in the bot's settings:

    dialogue:
      providers:
        weather: mypackage.weather:make_provider   # called once with no arguments at start-up

A provider raises `ProviderUnavailable` (or TimeoutError / OSError) when its service cannot be
reached; the action then answers "I can't reach the weather service right now". Put a timeout on
every network call it makes: a turn waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from bot.dialogue.responses import load_factory

__all__ = ["MusicProvider", "WeatherProvider", "load_providers"]


@runtime_checkable
class WeatherProvider(Protocol):
    def forecast(self, *, place: str | None, date: str | None, time: str | None) -> str:
        """A short description of the weather there and then, e.g. "sunny, 18 °C"."""


@runtime_checkable
class MusicProvider(Protocol):
    def play(self, query: Mapping[str, str]) -> str:
        """Start playing what the slots ask for (artist_name, song_name, music_genre, ...);
        return what is playing now, e.g. "Karma Police by Radiohead"."""

    def now_playing(self) -> str:
        """What is playing, or "" when nothing is."""

    def change_setting(self, setting: str) -> str:
        """Apply a player setting such as "shuffle" or "repeat"; return the setting as applied."""


def load_providers(specs: Mapping[str, str]) -> dict[str, object]:
    """Build each configured provider from its `module:factory`; ConfigError names a bad one."""
    return {name: load_factory(spec, where=f"dialogue.providers.{name}")() for name, spec in specs.items()}
