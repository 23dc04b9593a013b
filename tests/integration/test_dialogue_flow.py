"""Integration: digressions, returns and acting skills on the embedded model and the shipped tables."""

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
    from bot.store import MemoryStore

    with Bot.from_settings(load_settings(REPO / "configs" / "default.yaml"), base=real_base,
                           store=MemoryStore()) as bot:
        yield bot.manager


def test_an_alarm_survives_a_weather_digression_and_is_listed(manager):
    def say(text: str):
        return manager.handle(Turn(conversation_id="digress", user_id="dee", text=text))

    assert say("i need an alarm").text == "For what time should I set the alarm?"
    weather = say("what's the weather in london")
    assert weather.skill == "weather" and weather.frame.slots.get("place_name") == "london"
    assert weather.text.endswith("Back to your alarm request: For what time should I set the alarm?")
    back = say("6 am")
    assert (back.skill, back.frame.intent, back.text) == ("alarm", "alarm_set", "Alarm set for 6 am.")
    listed = say("which alarms have i got")
    assert listed.skill == "alarm" and listed.text == "You have one alarm: 6 am."


def test_the_shipped_dialogue_set_stays_above_its_floor(manager):
    """`bot eval --dialogues` in CI: 78.8% of conversations on the generative tables of 2026-11-28,
    60.6% on the read-out tables of 2026-12-01 (the note of issue 14); the floor leaves room for
    re-tuned tables to move it, not for the policy to break."""
    from bot.dialogue.script_run import play_set, score
    from bot.dialogue.scripts import load_dialogues

    scores = score(play_set(manager, load_dialogues(REPO / "configs" / "dialogues" / "shipped.yaml"),
                            run_id="ci"))
    assert scores["unreadable"].dialogue_accuracy == 1.0  # decided before any model call
    assert scores["all"].dialogue_accuracy >= 0.5, {name: s.dialogue_accuracy for name, s in scores.items()}
