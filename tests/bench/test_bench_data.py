from __future__ import annotations

import pytest

from bot.bench.data import load_bench_data, seeded_sample
from bot.errors import DataError


def test_without_eval_data_a_seeded_dev_split_is_held_out(jsonl_data, examples_for_bench):
    first = load_bench_data(jsonl_data, dev_fraction=0.25, seed=3)
    again = load_bench_data(jsonl_data, dev_fraction=0.25, seed=3)
    other = load_bench_data(jsonl_data, dev_fraction=0.25, seed=4)
    assert len(first.eval) == 15 and len(first.train) == 46 and first.carved  # 61 examples
    assert first.eval == again.eval and first.eval != other.eval
    assert {e.text for e in first.train}.isdisjoint({e.text for e in first.eval})
    assert first.overlap == 0 and "seeded 25%" in first.eval_source


def test_eval_data_split_and_limits(jointbert_data):
    data = load_bench_data(jointbert_data, eval_data=jointbert_data, eval_split="dev", max_train=10, max_eval=5)
    assert len(data.train) == 10 and len(data.eval) == 5 and not data.carved
    assert "split dev" in data.eval_source


def test_evaluating_on_the_training_split_is_refused(jointbert_data):
    with pytest.raises(DataError, match="evaluation split is the training split"):
        load_bench_data(jointbert_data, eval_data=jointbert_data)


def test_too_little_data_to_hold_out(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text('{"text": "hi", "intent": "greet"}\n')
    with pytest.raises(DataError, match="too few"):
        load_bench_data(path)


def test_seeded_sample(examples_for_bench):
    assert seeded_sample(examples_for_bench, None, 0) == examples_for_bench
    assert seeded_sample(examples_for_bench, 5, 0) == seeded_sample(examples_for_bench, 5, 0)
    assert len(seeded_sample(examples_for_bench, 5, 0)) == 5
