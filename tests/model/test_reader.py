"""FrameReader in every untuned prompting mode gives frames that validate against the skill's
schema, and reading a batch gives what reading one message at a time gives."""

from __future__ import annotations

import pytest
import torch

from bot.config import PromptMode
from bot.model.reader import FrameReader
from bot.skills.prompts import pick_demonstrations

UNTUNED = [m for m in PromptMode if m != PromptMode.tuned]

TEXTS = ["wake me up at 7 am", "is it raining in london today", "cancel my alarm",
         "set alarm tomorrow at 8 in the morning", "weather"]


def word_spans(text: str) -> set[str]:
    words = text.split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


def assert_valid(frame, text, config):
    assert frame.intent in config.intent_names
    assert set(frame.slots) <= set(config.slot_names)
    for value in frame.slots.values():
        assert value in word_spans(text), (text, value)
    assert 0.0 <= frame.confidence <= 1.0


@pytest.fixture(scope="module")
def readers(runtime, skill_config, examples):
    demos = pick_demonstrations(examples, 3)
    return {
        PromptMode.zero_shot: FrameReader(runtime, skill_config, PromptMode.zero_shot),
        PromptMode.few_shot: FrameReader(runtime, skill_config, PromptMode.few_shot, demonstrations=demos),
        PromptMode.chain_of_thought: FrameReader(runtime, skill_config, PromptMode.chain_of_thought,
                                                 demonstrations=demos),
    }


@pytest.mark.parametrize("mode", UNTUNED, ids=lambda m: m.value)
def test_every_mode_reads_valid_frames(readers, skill_config, mode):
    readings = readers[mode].read(TEXTS, batch_size=8)
    assert len(readings) == len(TEXTS)
    for reading, text in zip(readings, TEXTS):
        assert_valid(reading.frame, text, skill_config)
        assert 1 <= reading.tokens <= 64
        assert (reading.frame.reasoning is not None) == (mode == PromptMode.chain_of_thought)


@pytest.mark.parametrize("mode", UNTUNED, ids=lambda m: m.value)
def test_batch_equals_one_at_a_time(readers, mode):
    reader = readers[mode]
    batched = [r.frame for r in reader.read(TEXTS, batch_size=8)]
    alone = [reader.read([t])[0].frame for t in TEXTS]
    for b, a in zip(batched, alone):
        assert (b.intent, b.slots, b.reasoning) == (a.intent, a.slots, a.reasoning)
        assert b.confidence == pytest.approx(a.confidence, abs=1e-4)


def test_small_batch_size_splits_but_keeps_order(readers):
    reader = readers[PromptMode.zero_shot]
    whole = [r.frame for r in reader.read(TEXTS, batch_size=16)]
    split = [r.frame for r in reader.read(TEXTS, batch_size=2)]
    assert [(f.intent, f.slots) for f in whole] == [(f.intent, f.slots) for f in split]


def test_tuned_mode_is_not_a_generative_reader(runtime, skill_config):
    with pytest.raises(ValueError, match="TunedReader"):
        FrameReader(runtime, skill_config, PromptMode.tuned)


@pytest.mark.parametrize("text", ["", "|"])
def test_message_without_words_reads_a_valid_frame_even_if_the_model_wants_a_slot(tiny_base, skill_config, text):
    from bot.model.runtime import Runtime

    runtime = Runtime(tiny_base)  # a private runtime whose head always prefers the separator
    head = runtime.lm_head
    separator = tiny_base.tokenizer.encode(" |", add_special_tokens=False)[0]

    def prefers_separator(hidden):
        logits = head(hidden)
        logits[..., separator] += 100.0
        return logits

    runtime.lm_head = prefers_separator
    frame = FrameReader(runtime, skill_config, PromptMode.zero_shot).read([text])[0].frame
    assert frame.intent in skill_config.intent_names and frame.slots == {}
