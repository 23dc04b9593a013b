"""Which turns the model cannot read, and what a follow-up or an answer may say besides slot values."""

from __future__ import annotations

import pytest

from bot.config.dialogue import DEFAULT_FILLER_WORDS
from bot.dialogue.carry_over import describe_changes, only_slots
from bot.dialogue.readable import unreadable


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"), (" \n\t", "empty"),
    ("⏰⏰😴", "symbols"), ("?!", "symbols"), ("👍 👍", "symbols"),
    ("明日の朝7時にアラームをセットして", "script"), ("какая погода завтра", "script"),
    ("ما هو الطقس", "script"), ("set 明日の朝7時にアラーム", "script"),  # mostly Japanese
    ("set an alarm for 7 am", None), ("7", None), ("café in zürich", None),
    ("set an alarm 明日", None),  # mostly Latin
])
def test_unreadable_names_the_reason(text, reason) -> None:
    assert unreadable(text, min_latin_share=0.5) == reason


def test_the_latin_share_is_a_setting() -> None:
    mixed = "alarm 明日の朝"  # 5 Latin letters of 9
    assert unreadable(mixed, min_latin_share=0.5) is None
    assert unreadable(mixed, min_latin_share=0.7) == "script"


@pytest.mark.parametrize(("text", "slots", "expected"), [
    ("and tomorrow?", {"date": "tomorrow"}, True),
    ("what about in New York", {"place_name": "new york"}, True),
    ("no wait, wednesday", {"date": "wednesday"}, True),
    ("6:45", {"time": "6:45"}, True),
    ("what's the weather in london", {"place_name": "london"}, False),
    ("play some jazz", {"music_genre": "jazz"}, False),
    ("and tomorrow?", {}, False),  # no slot read: nothing to carry over
])
def test_only_slots(text, slots, expected) -> None:
    assert only_slots(text, slots, DEFAULT_FILLER_WORDS) is expected


def test_describe_changes_names_new_and_changed_slots() -> None:
    assert describe_changes({"place": "paris", "date": "today"},
                            {"place": "oslo", "date": "today", "time": "9 am"}) == "place: paris → oslo; time: 9 am"
