"""Integration: whole conversations through the dialogue manager on the real model and shipped skills."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.types import Turn

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def manager(real_base):
    from bot.app import Bot
    from bot.config.settings import load_settings

    with Bot.from_settings(load_settings(REPO / "configs" / "default.yaml"), base=real_base) as bot:
        yield bot.manager


def test_set_an_alarm_goes_to_the_alarm_skill_with_the_time(manager):
    reply = manager.handle(Turn(conversation_id="one-shot", text="set an alarm for 7 am"))
    assert reply.skill == "alarm"
    assert reply.frame.intent == "alarm_set"
    assert reply.frame.slots.get("time") == "7 am"
    assert "7 am" in reply.text


def test_missing_time_is_asked_for_and_filled_next_turn(manager):
    first = manager.handle(Turn(conversation_id="two-turns", text="set an alarm"))
    assert first.skill == "alarm" and first.text == "For what time should I set the alarm?"
    second = manager.handle(Turn(conversation_id="two-turns", text="6 am"))
    assert second.skill == "alarm"
    assert second.frame.slots.get("time") == "6 am"
    assert "6 am" in second.text


def test_weather_question_goes_to_the_weather_skill(manager):
    reply = manager.handle(Turn(conversation_id="weather", text="what is the weather like in london today"))
    assert reply.skill == "weather"
