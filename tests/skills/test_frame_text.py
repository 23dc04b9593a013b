"""The frame text format, in its one module: pieces, the word-span rule and slot order, which the
prompts, the examples check and the decoder all take from here."""

from __future__ import annotations

import pytest

import bot.model.decoding as decoding
import bot.skills.examples as examples
import bot.skills.prompts as prompts
from bot.skills import frame_text as ft


def test_the_others_use_this_module_not_copies_of_it() -> None:
    assert prompts.frame_text is ft.frame_text and prompts.ordered_slots is ft.ordered_slots
    assert examples.find_value_span is ft.find_value_span
    assert (decoding.SEPARATOR, decoding.EQUALS, decoding.MAX_SPAN_WORDS) == (" |", " =", 12)
    assert decoding.SEPARATOR is ft.SEPARATOR and decoding.ordered_slots is ft.ordered_slots


def test_a_frame_reads_intent_then_value_equals_name_in_text_order() -> None:
    text = "play miles davis in the kitchen"
    slots = {"room": "kitchen", "artist": "miles davis"}  # given out of order
    assert ft.frame_text("PlayMusic", slots, text) == " PlayMusic | miles davis = artist | kitchen = room"
    assert ft.frame_text("Stop", {}, "stop") == " Stop"


def test_a_repeated_value_takes_its_next_occurrence_and_a_missing_one_goes_last() -> None:
    placed = ft.ordered_slots("rate it 6 out of 6", {"rating": "6", "best": "6", "gone": "nowhere"})
    assert placed == [("rating", "6", 2), ("best", "6", 5), ("gone", "nowhere", 6)]


@pytest.mark.parametrize(("text", "value", "span"), [
    ("wake me at 7 am", "7 am", (3, 5)),
    ("wake me at 7 am", "7 a", None),  # whole words only
    ("Paris or paris", "paris", (2, 3)),  # case counts
    ("hi", "", None),
])
def test_a_value_is_a_run_of_whole_words(text: str, value: str, span: tuple[int, int] | None) -> None:
    assert ft.find_value_span(text, value) == span


def test_find_span_starts_looking_at_the_cursor() -> None:
    words = "a b a b".split()
    assert (ft.find_span(words, ["a", "b"]), ft.find_span(words, ["a", "b"], 1), ft.find_span(words, ["a"], 3)) == \
        (0, 2, None)


def test_word_spans_are_every_run_up_to_the_limit_in_reading_order() -> None:
    assert list(ft.word_spans("a b c", 2)) == [(0, "a"), (0, "a b"), (1, "b"), (1, "b c"), (2, "c")]
    assert max(len(v.split()) for _, v in ft.word_spans(" ".join("w" * 20))) == ft.MAX_SPAN_WORDS
