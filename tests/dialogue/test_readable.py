"""Which turns the model cannot read, and what a follow-up or an answer may say besides slot values."""

from __future__ import annotations

import pytest

from bot.config.dialogue import DEFAULT_CORRECTION_WORDS, DEFAULT_FILLER_WORDS
from bot.dialogue.carry_over import describe_changes, only_slots, says_any
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


@pytest.mark.parametrize(("text", "expected"), [
    ("no, 8 am", True), ("Actually make it 8:15", True), ("8 am instead", True), ("sorry i meant 9", True),
    ("i don't know, 8 am", False),  # "know" is not "no"
    ("and tomorrow?", False), ("what's on friday", False), ("make 8 am", False),  # "make it" is one phrase
])
def test_says_any_finds_a_correction_cue_as_whole_words(text, expected) -> None:
    assert says_any(text, DEFAULT_CORRECTION_WORDS) is expected


def test_the_correction_words_are_filler_words_too() -> None:
    assert all(word in DEFAULT_FILLER_WORDS for phrase in DEFAULT_CORRECTION_WORDS for word in phrase.split())


def test_describe_changes_names_new_and_changed_slots() -> None:
    assert describe_changes({"place": "paris", "date": "today"},
                            {"place": "oslo", "date": "today", "time": "9 am"}) == "place: paris → oslo; time: 9 am"
