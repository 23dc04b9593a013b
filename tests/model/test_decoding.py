"""Constrained decoding: gold frames encode to targets the decoder accepts, and any walk the
decoder allows ends in a frame that is valid for the skill (the constrained-output property)."""

from __future__ import annotations

import random

import pytest

from bot.model.decoding import MAX_SPAN_WORDS, SEPARATOR, FrameCodec, FrameDecoder
from bot.skills.prompts import frame_text

MESSAGES = [
    "wake me up at 7 am",
    "set alarm tomorrow at 8 in the morning",
    "is it raining in london today",
    "cancel my alarm",
    "meet at 5 | bring cake",   # a separator inside the message
    "time time time of day",    # repeated words
    "hello, world! 7:30 ok?",   # punctuation glued to words
    "x",
]


@pytest.fixture(scope="module")
def codec(tokenizer, skill_config):
    return FrameCodec(tokenizer, skill_config.intent_names, skill_config.slot_names)


@pytest.fixture(scope="module")
def tricky_codec(tokenizer):
    """Names that are prefixes of other names, as strings and as token sequences."""
    return FrameCodec(tokenizer, ["set", "set_alarm", "weather", "weather_today"], ["time", "timeofday", "place"])


def pieces(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def feed(decoder: FrameDecoder, ids: list[int]) -> FrameDecoder:
    """Advance through `ids`, checking that each token is allowed first."""
    for n, token in enumerate(ids):
        assert not decoder.done, f"decoder finished before token {n}"
        assert token in decoder.allowed(), f"token {n} ({token}) not allowed"
        decoder.advance(token, -0.1)
    return decoder


def fresh(decoder: FrameDecoder) -> FrameDecoder:
    """A new decoder for the same message (reuses the message's value trie)."""
    return FrameDecoder(decoder.codec, decoder.value_trie, decoder.starts)


def word_spans(text: str) -> set[str]:
    words = text.split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


def random_walk(decoder: FrameDecoder, rng: random.Random, limit: int = 64) -> list[int]:
    taken = []
    while not decoder.done:
        assert len(taken) < limit, f"no end after {limit} tokens"
        options = decoder.allowed()
        assert options, f"dead end after {taken}"
        token = rng.choice(options)
        decoder.advance(token, -1.0)
        taken.append(token)
    return taken


# ------------------------------------------------------------------------------ FrameCodec.encode

GOLD = [
    ("set_alarm", {"time": "7 am"}, "wake me up at 7 am"),
    ("weather", {"time": "today", "place": "london"}, "is it raining in london today"),
    ("cancel_alarm", {}, "cancel my alarm"),
    ("set_alarm", {"place": "in the morning", "time": "tomorrow at 8"}, "set alarm tomorrow at 8 in the morning"),
]


@pytest.mark.parametrize(("intent", "slots", "text"), GOLD)
def test_encode_ends_with_eos_and_decodes_to_the_frame_text(codec, tokenizer, intent, slots, text):
    ids = codec.encode(intent, slots, text)
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.eos_token_id not in ids[:-1]
    assert tokenizer.decode(ids[:-1]) == frame_text(intent, slots, text)


def test_encode_lists_slots_in_text_order(codec, tokenizer):
    ids = codec.encode("weather", {"time": "today", "place": "london"}, "is it raining in london today")
    assert tokenizer.decode(ids[:-1]) == " weather | london = place | today = time"


@pytest.mark.parametrize(("intent", "slots", "text"), GOLD)
def test_decoder_follows_a_gold_target_to_exactly_that_frame(codec, intent, slots, text):
    decoder = feed(codec.decoder(text), codec.encode(intent, slots, text))
    assert decoder.done
    frame = decoder.frame()
    assert (frame.intent, frame.slots) == (intent, slots)
    assert 0.0 <= frame.confidence <= 1.0


def test_confidence_comes_from_the_intent_tokens_only(codec, tokenizer):
    decoder = codec.decoder("wake me up at 7 am")
    ids = codec.encode("set_alarm", {"time": "7 am"}, "wake me up at 7 am")
    intent_tokens = len(pieces(tokenizer, " set_alarm")) + 1  # the name, then the separator closing it
    for n, token in enumerate(ids):
        decoder.advance(token, -0.1 if n < intent_tokens else -5.0)
    assert decoder.frame().confidence == pytest.approx(2.718281828 ** (-0.1 * intent_tokens))


# ------------------------------------------------------------------ the constrained-output property

def test_random_walks_always_end_in_a_valid_frame(tricky_codec):
    """Whatever allowed token is taken, the frame is valid: a known intent, known slots each at most
    once, every value a whole-word span of the message; and it ends within 64 tokens."""
    rng = random.Random(1234)
    intents = set(tricky_codec.intent_trie.names)
    slots = set(tricky_codec.slot_trie.names)
    seen_intents, seen_slots = set(), set()
    for text in MESSAGES:
        template = tricky_codec.decoder(text)
        spans = word_spans(text)
        for _ in range(150):
            decoder = fresh(template)
            taken = random_walk(decoder, rng)
            frame = decoder.frame()
            assert frame.intent in intents, (text, taken)
            assert set(frame.slots) <= slots
            for name, value in frame.slots.items():
                assert value in spans, (text, name, value)
                assert len(value.split()) <= MAX_SPAN_WORDS
            assert _in_order_without_overlap(text, list(frame.slots.values())), (text, frame.slots)
            assert taken[-1] == tricky_codec.end and taken.count(tricky_codec.end) == 1
            assert taken.count(tricky_codec.separator[0]) == len(frame.slots)  # each slot named once
            seen_intents.add(frame.intent)
            seen_slots |= set(frame.slots)
    assert seen_intents == intents and seen_slots == slots


def _in_order_without_overlap(text: str, values: list[str]) -> bool:
    """Each value can be placed after the previous one (greedy earliest placement)."""
    words, cursor = text.split(), 0
    for value in values:
        wanted = value.split()
        starts = [s for s in range(cursor, len(words) - len(wanted) + 1) if words[s:s + len(wanted)] == wanted]
        if not starts:
            return False
        cursor = starts[0] + len(wanted)
    return True


def test_values_come_in_text_order_and_never_overlap(codec, tokenizer):
    text = "is it raining in london today"
    decoder = feed(codec.decoder(text), pieces(tokenizer, " weather") + codec.separator
                   + pieces(tokenizer, " london") + codec.equals + pieces(tokenizer, " place") + codec.separator)
    allowed = decoder.allowed()
    assert pieces(tokenizer, " today")[0] in allowed
    for earlier in (" raining", " london", " it"):  # before or inside the value already read
        assert pieces(tokenizer, earlier)[0] not in allowed


def test_repeated_value_takes_its_next_occurrence(codec, tokenizer):
    text = "rate it 6 out of 6"
    slots = {"place": "6", "time": "6"}
    decoder = feed(codec.decoder(text), codec.encode("weather", slots, text))
    assert decoder.frame().slots == slots


def test_no_separator_once_the_message_is_read_to_its_end(codec, tokenizer):
    decoder = feed(codec.decoder("wake me at 7"), pieces(tokenizer, " set_alarm") + codec.separator
                   + pieces(tokenizer, " 7") + codec.equals + pieces(tokenizer, " time"))
    allowed = decoder.allowed()
    assert codec.end in allowed and codec.separator[0] not in allowed


def test_values_containing_the_separator_are_never_allowed(tricky_codec, tokenizer):
    text = "meet at 5 | bring cake"
    template = tricky_codec.decoder(text)
    stack = [template.value_trie]
    while stack:  # no path of the value trie goes through the separator (or the end token)
        node = stack.pop()
        assert tricky_codec.separator[0] not in node.children
        assert tricky_codec.end not in node.children
        stack.extend(node.children.values())
    allowed_values = {name for name in template.value_trie.names}
    assert "5" in allowed_values and "bring cake" in allowed_values
    assert not any("|" in value for value in allowed_values)
    rng = random.Random(7)
    for _ in range(200):
        decoder = fresh(template)
        random_walk(decoder, rng)
        assert not any("|" in value for value in decoder.frame().slots.values())


def test_spans_are_limited_to_max_span_words(codec):
    text = " ".join(f"w{i}" for i in range(MAX_SPAN_WORDS + 3))
    names = codec.decoder(text).value_trie.names
    assert max(len(v.split()) for v in names) == MAX_SPAN_WORDS


# ------------------------------------------------------------------- names that are prefixes of names

@pytest.mark.parametrize("intent", ["set", "set_alarm", "weather", "weather_today"])
def test_intent_names_that_prefix_others_are_all_reachable(tricky_codec, tokenizer, intent):
    assert pieces(tokenizer, " set") == pieces(tokenizer, " set_alarm")[:1]  # a token prefix indeed
    decoder = feed(tricky_codec.decoder("hi there"), pieces(tokenizer, " " + intent) + [tricky_codec.end])
    assert decoder.done and decoder.frame().intent == intent


def test_shorter_intent_can_end_where_longer_goes_on(tricky_codec, tokenizer):
    decoder = feed(tricky_codec.decoder("hi"), pieces(tokenizer, " set"))
    allowed = decoder.allowed()
    assert tricky_codec.end in allowed and tricky_codec.separator[0] in allowed
    assert pieces(tokenizer, " set_alarm")[1] in allowed


@pytest.mark.parametrize("slot", ["time", "timeofday"])
def test_slot_names_that_token_prefix_others_are_both_reachable(tricky_codec, tokenizer, slot):
    assert pieces(tokenizer, " timeofday")[:1] == pieces(tokenizer, " time")
    text = "wake me at 7"
    ids = (pieces(tokenizer, " set") + tricky_codec.separator + pieces(tokenizer, " 7")
           + tricky_codec.equals + pieces(tokenizer, " " + slot) + [tricky_codec.end])
    decoder = feed(tricky_codec.decoder(text), ids)
    assert decoder.frame().slots == {slot: "7"}


def test_used_slot_is_not_offered_again_but_its_longer_sibling_is(tricky_codec, tokenizer):
    decoder = feed(tricky_codec.decoder("wake me at 7 tonight"),
                   pieces(tokenizer, " set") + tricky_codec.separator + pieces(tokenizer, " 7")
                   + tricky_codec.equals + pieces(tokenizer, " time") + tricky_codec.separator
                   + pieces(tokenizer, " tonight") + tricky_codec.equals + pieces(tokenizer, " time"))
    allowed = decoder.allowed()
    assert tricky_codec.end not in allowed and tricky_codec.separator[0] not in allowed  # `time` is used
    assert pieces(tokenizer, " timeofday")[1] in allowed  # `timeofday` is not


def test_separator_is_not_offered_once_every_slot_is_used(tokenizer):
    codec = FrameCodec(tokenizer, ["go"], ["a"])
    decoder = feed(codec.decoder("x y"), pieces(tokenizer, " go") + codec.separator + pieces(tokenizer, " x")
                   + codec.equals + pieces(tokenizer, " a"))
    assert codec.separator[0] not in decoder.allowed() and codec.end in decoder.allowed()


def test_skill_without_slots_only_allows_intent_then_end(tokenizer):
    codec = FrameCodec(tokenizer, ["greet"], [])
    decoder = feed(codec.decoder("hello there"), pieces(tokenizer, " greet"))
    assert decoder.allowed() == [codec.end]


@pytest.mark.parametrize("text", ["", "|"])
def test_message_without_usable_words_never_dead_ends(codec, text):
    rng = random.Random(0)
    template = codec.decoder(text)
    for _ in range(50):
        decoder = fresh(template)
        random_walk(decoder, rng)  # asserts allowed() is never empty before the end
        assert decoder.frame().slots == {}


def test_separator_piece_is_one_token(codec, tokenizer):
    assert codec.separator == pieces(tokenizer, SEPARATOR) and len(codec.separator) == 1


def test_only_the_intents_own_slots_can_be_named(tokenizer):
    codec = FrameCodec(tokenizer, ["set", "weather"], ["time", "timeofday", "place"],
                       intent_slots={"set": ["time", "timeofday"], "weather": []})
    text = "set it for 7 am in paris"
    rng = random.Random(0)
    for _ in range(200):
        decoder = codec.decoder(text)
        random_walk(decoder, rng)
        frame = decoder.frame()
        assert set(frame.slots) <= {"set": {"time", "timeofday"}, "weather": set()}[frame.intent]
    weather = feed(codec.decoder(text), pieces(tokenizer, " weather"))
    assert codec.separator[0] not in weather.allowed()  # an intent without slots can only end
    time_named = feed(codec.decoder(text), codec.encode("set", {"time": "7 am"}, text)[:-1])
    place = pieces(tokenizer, " place")
    again = feed(time_named, codec.separator + pieces(tokenizer, " paris") + codec.equals)
    assert place[0] != pieces(tokenizer, " timeofday")[0]
    assert place[0] not in again.allowed()  # 'place' is a slot of the skill, not of this intent
