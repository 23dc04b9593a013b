"""Generated text as it is decoded: one greedy line loop, pieces that join to what `greedy_line`
writes, and a streamed `generate` that returns what the plain one does (the tiny random model)."""

from __future__ import annotations

import pytest

from bot.model.reader import greedy_line, greedy_line_tokens
from bot.model.understanding import GENERATE_TOKENS, ModelUnderstanding, decoded_pieces, stream_text, stripped
from bot.skills.skill import Skill

PROMPTS = ["User: hello there\nBot:", "User: tell me a story\nBot:", "Once upon a time"]


@pytest.fixture(scope="module")
def rows(tokenizer):
    return [tokenizer.encode(p, add_special_tokens=False) for p in PROMPTS]


def test_greedy_line_is_the_collected_steps_of_the_token_loop(runtime, rows):
    empty = runtime.empty_prefix()
    produced: list[list[int]] = [[] for _ in rows]
    for step in greedy_line_tokens(runtime, [empty] * len(rows), rows, 12):
        for i, token in step.items():
            produced[i].append(token)
    lines = greedy_line(runtime, [empty] * len(rows), rows, 12)
    assert lines == [runtime.base.tokenizer.decode(p) for p in produced]
    assert sum(map(len, produced)) >= len(rows)  # the random model writes something for these prompts


def test_stream_text_joins_to_the_stripped_greedy_line_and_yields_before_the_last_token(runtime, rows):
    empty = runtime.empty_prefix()
    for row in rows:
        line = greedy_line(runtime, [empty], [row], GENERATE_TOKENS)[0]
        assert "".join(stream_text(runtime, empty, row, GENERATE_TOKENS)) == line.strip()
    events: list[str] = []

    def counted(tokens):
        for token in tokens:
            events.append("token")
            yield token

    steps = (step[0] for step in greedy_line_tokens(runtime, [empty], [rows[0]], GENERATE_TOKENS))
    for _ in stripped(decoded_pieces(runtime.base.tokenizer, counted(steps))):
        events.append("piece")
    assert events.count("token") >= 2 and events.index("piece") < events.count("token")


def test_a_character_split_across_tokens_waits_for_its_last_byte(tokenizer):
    ids = tokenizer.encode("café ☕ ok", add_special_tokens=False)
    pieces = list(decoded_pieces(tokenizer, ids))
    assert "".join(pieces) == tokenizer.decode(ids) == "café ☕ ok"
    assert not any("\ufffd" in piece for piece in pieces)


@pytest.mark.parametrize("pieces", [[" Hello", " world", "  "], ["  ", " a ", "b", " "], ["x"], [" ", "\t"], []])
def test_stripped_pieces_join_to_the_stripped_text(pieces):
    out = list(stripped(pieces))
    assert "".join(out) == "".join(pieces).strip()
    assert all(piece for piece in out) and not (out and out[-1] != out[-1].rstrip())


def test_generate_streamed_returns_and_sends_what_generate_returns(runtime, make_skill, tmp_path):
    skill = Skill(root=tmp_path, config=make_skill(name="chat"))
    understanding = ModelUnderstanding(runtime, {"chat": skill})
    plain = understanding.generate("chat", "hello there", ())
    sent: list[str] = []
    streamed = understanding.generate("chat", "hello there", (), on_piece=sent.append)
    understanding.batcher.close()
    assert streamed == plain == "".join(sent) and len(sent) >= 2
