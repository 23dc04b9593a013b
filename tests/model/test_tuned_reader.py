"""The one-pass reader: frames that validate against the schema, a batch (of one skill or of
several) equal to each row read alone, calibrated confidence in [0, 1], and no token generated."""

from __future__ import annotations

import math

import pytest
import torch

from bot.model.readout import ReadoutHeads, TurnLayout, fit_temperature, layout_turn, turn_mask, word_states
from bot.model.tables import Table, TableKind
from bot.model.tagging import tag_names
from bot.model.tuned_reader import TunedReader, read_tuned
from bot.skills.manifest import ReadoutSpec

TEXTS = ["wake me up at 7 am", "is it raining in london today", "cancel my alarm",
         "set alarm tomorrow at 8 in the morning", "weather", ""]


def random_table(runtime, config, *, seed: int, kind: TableKind = TableKind.deep, context: int = 8,
                 temperature: float = 1.0, pool: str = "last+mean", word: str = "mean",
                 layers: tuple[int, ...] = (1, -1)) -> Table:
    torch.manual_seed(seed)
    width = runtime.layers * 2 * runtime.kv_heads * runtime.head_dim if kind == TableKind.deep else runtime.width
    spec = ReadoutSpec(intents=config.intent_names, tags=tag_names(config.slot_names),
                       layers=runtime.resolve_layers(list(layers)), context=context, temperature=temperature, pool=pool,
                       word=word)
    heads = ReadoutHeads(spec, runtime.width).eval().requires_grad_(False)
    return Table(weights=torch.randn(3, width), kind=kind, fingerprint="f", heads=heads, version=str(seed))


def word_spans(text: str) -> set[str]:
    words = text.split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


@pytest.mark.parametrize("kind", list(TableKind), ids=lambda k: k.value)
@pytest.mark.parametrize("context", [0, 8], ids=["linear", "gru"])
def test_frames_validate_against_the_schema(runtime, make_skill, kind, context):
    config = make_skill(intents=[{"name": "set_alarm", "slots": ["time"]}, {"name": "weather"}])
    reader = TunedReader(runtime, config, random_table(runtime, config, seed=1, kind=kind, context=context))
    for reading, text in zip(reader.read(TEXTS), TEXTS):
        frame = reading.frame
        assert frame.intent in config.intent_names
        assert set(frame.slots) <= set(config.intent_slots[frame.intent])  # the intent's own slots only
        assert all(value in word_spans(text) for value in frame.slots.values())
        assert 0.0 <= frame.confidence <= 1.0 and reading.tokens == 0


def test_a_batch_equals_each_turn_read_alone(runtime, skill_config):
    reader = TunedReader(runtime, skill_config, random_table(runtime, skill_config, seed=2))
    together = [r.frame for r in reader.read(TEXTS)]
    alone = [reader.read([t])[0].frame for t in TEXTS]
    assert [(f.intent, f.slots) for f in together] == [(f.intent, f.slots) for f in alone]
    assert [f.confidence for f in together] == pytest.approx([f.confidence for f in alone], abs=1e-5)


@pytest.mark.parametrize("layer_cost", [math.inf, 0.0], ids=["one-pass", "a-pass-per-depth-and-length"])
def test_a_mixed_batch_of_skills_equals_each_row_read_alone(runtime, skill_config, make_skill, monkeypatch, layer_cost):
    monkeypatch.setattr(runtime, "layer_cost", layer_cost)  # the plan of passes must not change a frame
    other = make_skill(name="weather", intents=[{"name": "forecast"}, {"name": "rain"}],
                       slots=[{"name": "place"}])
    readers = [TunedReader(runtime, skill_config, random_table(runtime, skill_config, seed=3)),
               TunedReader(runtime, other, random_table(runtime, other, seed=4, kind=TableKind.input, pool="last",
                                                       word="first", layers=(1,)))]
    requests = [(readers[i % 2], text) for i, text in enumerate(TEXTS)]
    mixed = [r.frame for r in read_tuned(requests)]
    alone = [reader.read([text])[0].frame for reader, text in requests]
    assert [(f.intent, f.slots) for f in mixed] == [(f.intent, f.slots) for f in alone]
    assert [f.confidence for f in mixed] == pytest.approx([f.confidence for f in alone], abs=1e-5)
    assert {f.intent for f in mixed[1::2]} <= {"forecast", "rain"}


def test_the_prefix_is_the_table_alone(runtime, skill_config):
    table = random_table(runtime, skill_config, seed=5)
    prefix = TunedReader(runtime, skill_config, table).prefix
    assert prefix.length == table.n_virtual and prefix.next_position == table.n_virtual


def test_temperature_changes_confidence_not_the_frame(runtime, skill_config):
    sharp, soft = (TunedReader(runtime, skill_config, random_table(runtime, skill_config, seed=6, temperature=t))
                   for t in (0.1, 10.0))
    a, b = sharp.read(TEXTS), soft.read(TEXTS)
    assert [r.frame.intent for r in a] == [r.frame.intent for r in b]
    assert all(x.frame.confidence > y.frame.confidence for x, y in zip(a, b))
    assert all(y.frame.confidence < 0.5 for y in b)  # near uniform over three intents


def test_fitted_temperature_lowers_the_held_out_loss():
    torch.manual_seed(0)
    labels = torch.randint(0, 4, (200,))
    logits = torch.randn(200, 4) + 3.0 * torch.nn.functional.one_hot(labels, 4)
    logits[:60] = torch.randn(60, 4) * 8  # a third confidently wrong: over-confident logits
    t = fit_temperature(logits * 4, labels)
    nll = lambda x: torch.nn.functional.cross_entropy(x, labels).item()
    assert t > 1.0 and nll(logits * 4 / t) < nll(logits * 4)


def test_echo_layout_reads_the_second_copy(tokenizer):
    single = layout_turn(tokenizer, "play some jazz", echo=False)
    echoed = layout_turn(tokenizer, "play some jazz", echo=True)
    assert single.words == echoed.words == ["play", "some", "jazz"]
    assert echoed.ids[-len(single.ids):] == single.ids and len(echoed.ids) == 2 * len(single.ids) + 1
    assert [echoed.ids[p] for p in echoed.positions] == [single.ids[p] for p in single.positions]


def test_word_states_average_each_words_own_tokens_in_a_left_padded_batch():
    short = TurnLayout(ids=[7, 8, 9], words=["ab", "c"], positions=[0, 2], ends=[2, 3])
    long = TurnLayout(ids=[1, 2, 3, 4], words=["d", "efg"], positions=[0, 1], ends=[1, 4])
    features = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 4, 1)  # row 0 is padded by one
    means = word_states(features, [short, long], "mean")
    firsts = word_states(features, [short, long], "first")
    assert means.squeeze(-1).tolist() == [1.5, 3.0, 4.0, 6.0]  # (1+2)/2, 3; 4, (5+6+7)/3
    assert firsts.squeeze(-1).tolist() == [1.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize("pool, expected", [("mean", [2.0, 5.5]), ("last", [3.0, 7.0]), ("last+mean", [5.0, 12.5])])
def test_the_intent_head_reads_the_turn_as_its_pool_says_and_the_cache_agrees(pool, expected):
    """Row 0 is padded by one: its mean is over its own three tokens. A head of ones sums its inputs."""
    spec = ReadoutSpec(intents=["a"], tags=["O"], layers=[1], echo=True, word="mean", context=0, pool=pool)
    heads = ReadoutHeads(spec, 1)
    with torch.no_grad():
        heads.intent.weight.fill_(1.0)
        heads.intent.bias.zero_()
    features = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 4, 1)
    layouts = [TurnLayout(ids=[7, 8, 9], words=[], positions=[], ends=[]),
               TurnLayout(ids=[1, 2, 3, 4], words=[], positions=[], ends=[])]
    logits = heads.intent_logits(features, turn_mask(4, layouts))
    assert logits.squeeze(-1).tolist() == expected  # row 0: tokens 1, 2, 3; row 1: 4, 5, 6, 7
    cached = torch.tensor([[[3.0], [2.0]], [[7.0], [5.5]]])  # [B, 2, F]: last token, turn mean
    assert heads.pooled_intent_logits(cached).squeeze(-1).tolist() == expected


@pytest.mark.parametrize("pool", ["mean", "last+mean"])
def test_intent_weights_start_along_the_centred_states_of_the_intents_words(pool):
    """Each intent's row points along its words' state less the mean of all intents' (the shared
    part tells intents nothing apart), with no bias: a few examples then correct the names."""
    torch.manual_seed(0)
    spec = ReadoutSpec(intents=["a", "b", "c"], tags=["O"], layers=[1], context=0, pool=pool)
    heads = ReadoutHeads(spec, 4)
    pooled = torch.randn(3, 2, 4) + 5.0  # a large shared part, as real states have
    heads.start_intents_at(pooled)
    inputs = pooled[:, 1] if pool == "mean" else pooled.flatten(1)
    centred = inputs - inputs.mean(0)
    cosines = torch.nn.functional.cosine_similarity(heads.intent.weight, centred, dim=1)
    assert torch.allclose(cosines, torch.ones(3), atol=1e-5)
    assert torch.equal(heads.intent.bias, torch.zeros(3))
    logits = heads.pooled_intent_logits(pooled)
    assert logits.abs().max() < 2 * 12.0  # the scale follows the states' size, not their raw norm
