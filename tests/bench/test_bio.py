from __future__ import annotations

from bot.bench.bio import example_tags, slots_from_tags, tag_labels
from bot.types import Example


def test_tags_round_trip_to_the_same_slots(examples_for_bench):
    for example in examples_for_bench:
        words, tags = example_tags(example)
        assert len(words) == len(tags)
        assert slots_from_tags(words, tags) == example.slots


def test_tags_mark_first_occurrence_and_skip_overlaps():
    example = Example(text="from 7 to 7 30", intent="x", slots={"start": "7", "end": "7 30"})
    words, tags = example_tags(example)
    # "7 30" first occurs at word 3; "7" at word 1, so both fit
    assert tags == ["O", "B-start", "O", "B-end", "I-end"]
    clash = Example(text="at 7 pm", intent="x", slots={"time": "7 pm", "hour": "7"})
    assert example_tags(clash)[1] == ["O", "B-time", "I-time"]  # "7" overlaps: left untagged


def test_tag_labels_are_outside_then_sorted_pairs(examples_for_bench):
    assert tag_labels(examples_for_bench) == ["O", "B-place", "I-place", "B-time", "I-time"]
    assert tag_labels([Example(text="hi", intent="greet")]) == ["O"]


def test_slots_from_tags_reads_like_conlleval():
    words = "fly from new york to boston".split()
    tags = ["O", "O", "I-city", "I-city", "O", "B-city"]  # I- without B- starts a span; first wins
    assert slots_from_tags(words, tags) == {"city": "new york"}
