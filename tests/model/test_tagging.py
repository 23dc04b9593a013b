"""BIO tags from examples and back, and the Viterbi pass that only ever yields valid spans."""

from __future__ import annotations

import torch

from bot.model.tagging import slots_from_tags, tag_names, transition_mask, viterbi, word_tags

TAGS = tag_names(["time", "place"])  # O, B-time, I-time, B-place, I-place
ALL = torch.ones(len(TAGS), dtype=torch.bool)


def scores(*rows: dict[str, float]) -> torch.Tensor:
    """Log-scores per word: the named tags get their value, every other tag -10."""
    out = torch.full((len(rows), len(TAGS)), -10.0)
    for i, row in enumerate(rows):
        for tag, value in row.items():
            out[i, TAGS.index(tag)] = value
    return out


def test_tags_follow_the_word_spans_of_the_values():
    text = "wake me at 7 am in paris"
    labels = word_tags(text, {"time": "7 am", "place": "paris"}, TAGS)
    assert [TAGS[i] for i in labels] == ["O", "O", "O", "B-time", "I-time", "O", "B-place"]


def test_a_value_that_is_no_word_span_is_left_untagged():
    assert word_tags("wake me at 7am", {"time": "7 am"}, TAGS) == [0, 0, 0, 0]


def test_inside_may_only_follow_its_own_begin_or_inside():
    allowed = transition_mask(TAGS)
    assert allowed[TAGS.index("B-time"), TAGS.index("I-time")]
    assert allowed[TAGS.index("I-time"), TAGS.index("I-time")]
    assert not allowed[TAGS.index("O"), TAGS.index("I-time")]
    assert not allowed[TAGS.index("B-place"), TAGS.index("I-time")]
    assert allowed[TAGS.index("I-place"), TAGS.index("B-time")]


def test_viterbi_never_starts_a_span_with_inside():
    # greedy would read I-time first: not a span; the best valid path makes it B-time
    path = viterbi(scores({"I-time": 0.0, "B-time": -1.0}, {"I-time": 0.0}), transition_mask(TAGS), ALL)
    assert [TAGS[i] for i in path] == ["B-time", "I-time"]


def test_viterbi_does_not_continue_another_slot():
    path = viterbi(scores({"B-place": 0.0}, {"I-time": 0.0, "I-place": -2.0}), transition_mask(TAGS), ALL)
    assert [TAGS[i] for i in path] == ["B-place", "I-place"]


def test_viterbi_keeps_to_the_usable_tags():
    usable = torch.tensor([t == "O" or t.endswith("place") for t in TAGS])
    path = viterbi(scores({"B-time": 0.0, "O": -1.0}, {"I-time": 0.0, "O": -1.0}), transition_mask(TAGS), usable)
    assert [TAGS[i] for i in path] == ["O", "O"]


def test_viterbi_of_no_words_is_empty():
    assert viterbi(torch.zeros(0, len(TAGS)), transition_mask(TAGS), ALL) == []


def test_slots_are_the_typed_words_of_each_span():
    words = "Wake me at 7 AM in São Paulo".split()
    path = [TAGS.index(t) for t in ["O", "O", "O", "B-time", "I-time", "O", "B-place", "I-place"]]
    assert slots_from_tags(words, path, TAGS) == {"time": "7 AM", "place": "São Paulo"}


def test_a_slot_tagged_twice_keeps_its_first_value():
    path = [TAGS.index(t) for t in ["B-place", "O", "B-place"]]
    assert slots_from_tags(["paris", "or", "rome"], path, TAGS) == {"place": "paris"}
