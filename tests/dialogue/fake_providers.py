"""Local stand-ins for the weather and music services (no network in tests)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.dialogue.actions import ProviderUnavailable


class FakeWeather:
    def __init__(self, forecast: str = "sunny, 18 °C") -> None:
        self.text, self.asked = forecast, []

    def forecast(self, *, place: str | None, date: str | None, time: str | None) -> str:
        self.asked.append((place, date, time))
        return self.text


class DownWeather:
    def forecast(self, *, place: str | None, date: str | None, time: str | None) -> str:
        raise ProviderUnavailable("connect timeout after 2 s")


class FakeMusic:
    def __init__(self) -> None:
        self.playing = ""

    def play(self, query: Mapping[str, str]) -> str:
        self.playing = " - ".join(query.values()) or "a random mix"
        return self.playing

    def now_playing(self) -> str:
        return self.playing

    def change_setting(self, setting: str) -> str:
        return f"{setting} on"


def make_weather() -> FakeWeather:
    """A factory as named in settings: `providers: {weather: fake_providers:make_weather}`."""
    return FakeWeather()
