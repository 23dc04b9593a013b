"""The one forward path: batched rows with per-row prefixes equal each row alone; the KV cache
gives what recomputing the whole sequence gives; prefixes equal a plain forward of the model."""

from __future__ import annotations

import pytest
import torch

from bot.model.reader import greedy_frames
from bot.model.tables import TableKind

ATOL = 1e-4


def ids_of(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def deep_width(runtime) -> int:
    return runtime.layers * 2 * runtime.kv_heads * runtime.head_dim


def last_logits(runtime, prefixes, rows) -> torch.Tensor:
    hidden, _, _, _ = runtime.forward(prefixes, rows)
    return runtime.logits(hidden[:, -1])


@pytest.fixture(scope="module")
def prefixes(runtime, tiny_base):
    """Four different kinds of prefix: none, fixed text, a deep table, an input-layer table."""
    generator = torch.Generator().manual_seed(1)
    hidden = tiny_base.model.config.hidden_size
    with torch.no_grad():
        return {
            "empty": runtime.prefix(None, []),
            "text": runtime.prefix(None, ids_of(tiny_base.tokenizer, "You read alarms.\nIntents: set, cancel\n")),
            "deep": runtime.prefix(torch.randn(5, deep_width(runtime), generator=generator), [],
                                   kind=TableKind.deep),
            "input": runtime.prefix(torch.randn(3, hidden, generator=generator), [], kind=TableKind.input),
        }


ROWS = ["Message: wake me up at 7 am\nFrame:", "hi", "Message: weather in paris today please\nFrame:",
        "cancel it"]


def test_prefix_kinds_have_expected_lengths(prefixes, runtime):
    assert prefixes["empty"].length == 0 and prefixes["empty"].next_position == 0
    assert prefixes["deep"].length == 5 and prefixes["deep"].next_position == 5
    assert prefixes["input"].length == 3 and prefixes["input"].next_position == 3
    text_ids = ids_of(runtime.base.tokenizer, "You read alarms.\nIntents: set, cancel\n")
    assert prefixes["text"].length == prefixes["text"].next_position == len(text_ids)
    for prefix in prefixes.values():
        assert len(prefix.keys) == len(prefix.values) == runtime.layers
        assert prefix.keys[0].shape == (1, runtime.kv_heads, prefix.length, runtime.head_dim)


def test_batch_with_mixed_prefixes_and_lengths_equals_rows_alone(runtime, prefixes, tiny_base):
    kinds = ["empty", "text", "deep", "input"]
    rows = [ids_of(tiny_base.tokenizer, r) for r in ROWS]
    assert len({len(r) for r in rows}) == len(rows)  # all different lengths
    with torch.no_grad():
        batched = last_logits(runtime, [prefixes[k] for k in kinds], rows)
        for i, (kind, row) in enumerate(zip(kinds, rows)):
            alone = last_logits(runtime, [prefixes[kind]], [row])
            assert torch.isfinite(batched[i]).all()
            torch.testing.assert_close(batched[i], alone[0], atol=ATOL, rtol=0, msg=f"row {i} ({kind})")


def test_batch_sharing_one_prefix_equals_rows_alone(runtime, prefixes, tiny_base):
    rows = [ids_of(tiny_base.tokenizer, r) for r in ROWS]
    for kind in ("empty", "deep"):
        with torch.no_grad():
            batched = last_logits(runtime, [prefixes[kind]] * len(rows), rows)
            for i, row in enumerate(rows):
                alone = last_logits(runtime, [prefixes[kind]], [row])
                torch.testing.assert_close(batched[i], alone[0], atol=ATOL, rtol=0)


def test_text_prefix_equals_plain_forward_of_concatenated_ids(runtime, prefixes, tiny_base):
    text = ids_of(tiny_base.tokenizer, "You read alarms.\nIntents: set, cancel\n")
    row = ids_of(tiny_base.tokenizer, ROWS[0])
    with torch.no_grad():
        ours = last_logits(runtime, [prefixes["text"]], [row])
        plain = tiny_base.model(input_ids=torch.tensor([text + row])).logits[:, -1]
    torch.testing.assert_close(ours, plain, atol=ATOL, rtol=0)


def test_empty_prefix_equals_plain_forward(runtime, prefixes, tiny_base):
    row = ids_of(tiny_base.tokenizer, ROWS[2])
    with torch.no_grad():
        ours = last_logits(runtime, [prefixes["empty"]], [row])
        plain = tiny_base.model(input_ids=torch.tensor([row])).logits[:, -1]
    torch.testing.assert_close(ours, plain, atol=ATOL, rtol=0)


def test_input_table_equals_plain_forward_of_embeddings(runtime, tiny_base):
    weights = torch.randn(3, tiny_base.model.config.hidden_size, generator=torch.Generator().manual_seed(2))
    row = ids_of(tiny_base.tokenizer, ROWS[1])
    with torch.no_grad():
        ours = last_logits(runtime, [runtime.prefix(weights, [], kind=TableKind.input)], [row])
        embeds = torch.cat([weights.unsqueeze(0), runtime.embed(torch.tensor([row]))], dim=1)
        plain = tiny_base.model(inputs_embeds=embeds).logits[:, -1]
    torch.testing.assert_close(ours, plain, atol=ATOL, rtol=0)


def test_deep_table_made_from_text_keys_values_equals_that_text(runtime, prefixes, tiny_base):
    """Rows of a deep table are [layer0 key, layer0 value, layer1 key, ...] (peft's order)."""
    text = prefixes["text"]
    stacked = torch.stack([t for pair in zip(text.keys, text.values) for t in pair])  # [2L, 1, H, n, d]
    weights = stacked[:, 0].permute(2, 0, 1, 3).reshape(text.length, -1)
    assert weights.shape[1] == deep_width(runtime)
    deep = runtime.prefix(weights, [], kind=TableKind.deep)
    row = ids_of(tiny_base.tokenizer, ROWS[3])
    with torch.no_grad():
        torch.testing.assert_close(last_logits(runtime, [deep], [row]), last_logits(runtime, [text], [row]),
                                   atol=ATOL, rtol=0)


def test_deep_table_followed_by_text_keeps_the_table(runtime, tiny_base):
    weights = torch.randn(2, deep_width(runtime), generator=torch.Generator().manual_seed(3))
    text = ids_of(tiny_base.tokenizer, "Intents: set\n")
    prefix = runtime.prefix(weights, text, kind=TableKind.deep)
    assert prefix.length == 2 + len(text) and prefix.next_position == 2 + len(text)
    torch.testing.assert_close(prefix.keys[1][:, :, :2], runtime.table_prefix(weights).keys[1])


def _greedy_with_cache(runtime, prefixes, rows, steps):
    hidden, cache, mask, positions = runtime.forward(prefixes, rows)
    logits = runtime.logits(hidden[:, -1])
    produced = [[] for _ in rows]
    for _ in range(steps):
        chosen = logits.argmax(-1)
        for i, token in enumerate(chosen.tolist()):
            produced[i].append(token)
        positions = positions + 1
        logits, mask = runtime.step(chosen, cache, mask, positions)
    return produced


def _greedy_without_cache(runtime, prefix, row, steps):
    produced = []
    for _ in range(steps):
        produced.append(int(last_logits(runtime, [prefix], [row + produced])[0].argmax()))
    return produced


def test_kv_cache_greedy_equals_full_recompute(runtime, prefixes, tiny_base):
    kinds = ["text", "empty", "deep", "input"]
    rows = [ids_of(tiny_base.tokenizer, r) for r in ROWS]
    with torch.no_grad():
        cached = _greedy_with_cache(runtime, [prefixes[k] for k in kinds], rows, steps=5)
        for i, kind in enumerate(kinds):
            assert cached[i] == _greedy_without_cache(runtime, prefixes[kind], rows[i], steps=5), kind


def test_step_logits_equal_full_forward_logits(runtime, prefixes, tiny_base):
    row = ids_of(tiny_base.tokenizer, ROWS[0])
    extra = ids_of(tiny_base.tokenizer, " set_alarm | time")
    with torch.no_grad():
        hidden, cache, mask, positions = runtime.forward([prefixes["deep"]], [row])
        for n, token in enumerate(extra):
            positions = positions + 1
            stepped, mask = runtime.step(torch.tensor([token]), cache, mask, positions)
            full = last_logits(runtime, [prefixes["deep"]], [row + extra[: n + 1]])
            torch.testing.assert_close(stepped, full, atol=ATOL, rtol=0)


def _constrained_without_cache(runtime, prefix, row, decoder):
    count = 0
    generated: list[int] = []
    while not decoder.done and count < 64:
        logits = last_logits(runtime, [prefix], [row + generated])[0]
        allowed = torch.tensor(decoder.allowed())
        logprobs = torch.log_softmax(logits[allowed], dim=-1)
        best = int(logprobs.argmax())
        token = int(allowed[best])
        decoder.advance(token, float(logprobs[best]))
        generated.append(token)
        count += 1
    return decoder.frame(), count


def test_greedy_frames_with_cache_equal_recomputed_constrained_greedy(runtime, prefixes, tiny_base,
                                                                      skill_config):
    from bot.model.decoding import FrameCodec

    codec = FrameCodec(tiny_base.tokenizer, skill_config.intent_names, skill_config.slot_names)
    texts = ["wake me up at 7 am", "weather in paris", "cancel my alarm tomorrow"]
    rows = [ids_of(tiny_base.tokenizer, f"Message: {t}\nFrame:") for t in texts]
    kinds = ["deep", "text", "empty"]
    with torch.no_grad():
        frames, counts = greedy_frames(runtime, [prefixes[k] for k in kinds], rows,
                                       [codec.decoder(t) for t in texts])
        for i, (kind, text) in enumerate(zip(kinds, texts)):
            frame, count = _constrained_without_cache(runtime, prefixes[kind], rows[i], codec.decoder(text))
            assert (frames[i].intent, frames[i].slots) == (frame.intent, frame.slots)
            assert counts[i] == count
            assert frames[i].confidence == pytest.approx(frame.confidence, abs=1e-4)


def test_runtimes_sharing_a_model_read_the_same_states(tmp_path, tokenizer, make_tiny_model):
    """Reading a middle layer runs a view of the first layers; several views and several Runtimes
    over one model must not hook its layers twice (the hidden states would double)."""
    from bot.model.base import load_base_model
    from bot.model.runtime import Runtime

    make_tiny_model(len(tokenizer), layers=3).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    base = load_base_model(str(tmp_path), dtype="float32")
    row = tokenizer.encode(" wake me at 7 am", add_special_tokens=False)
    first, second = Runtime(base), Runtime(base)
    with torch.no_grad():  # views first: the whole decoder has never run when they are made
        reads = [runtime.layer_states([runtime.empty_prefix()], [row], {1, 2}) for runtime in (first, second, first)]
        full = first.layer_states([first.empty_prefix()], [row], {1, 2, 3})
    for read in reads:
        for layer, state in read.items():
            torch.testing.assert_close(state, full[layer])
    hooks = sum(len(layer._forward_hooks) for layer in base.model.get_decoder().layers)
    assert hooks <= len(base.model.get_decoder().layers)
