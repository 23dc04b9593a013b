"""Fixtures for the benchmark tests: a small templated data set in two formats and a tiny random BERT."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bot.types import Example

TIMES = ["7 am", "noon", "6 30", "tomorrow", "tonight", "9 pm"]
PLACES = ["paris", "london", "oslo", "new york", "rome", "berlin"]
TEMPLATES = [
    ("set_alarm", "wake me up at {time}", {"time"}),
    ("set_alarm", "set an alarm for {time} please", {"time"}),
    ("cancel_alarm", "cancel the {time} alarm", {"time"}),
    ("cancel_alarm", "turn off my alarm", set()),
    ("weather", "weather in {place} {time}", {"place", "time"}),
    ("weather", "is it cold in {place}", {"place"}),
]


def bench_examples() -> list[Example]:
    """72 distinct examples of three intents and two slots (every slot value is whole words)."""
    examples, seen = [], set()
    for (intent, template, slots), time, place in itertools.product(TEMPLATES, TIMES, PLACES):
        text = template.format(time=time, place=place)
        if text not in seen:
            seen.add(text)
            values = {"time": time, "place": place}
            examples.append(Example(text=text, intent=intent, slots={k: values[k] for k in sorted(slots)}))
    return examples


def write_jointbert(folder: Path, examples: list[Example]) -> Path:
    """A JointBERT folder: seq.in / seq.out / label, one utterance a line."""
    from bot.bench.bio import example_tags

    folder.mkdir(parents=True, exist_ok=True)
    tagged = [example_tags(e) for e in examples]
    (folder / "seq.in").write_text("".join(" ".join(w) + "\n" for w, _ in tagged))
    (folder / "seq.out").write_text("".join(" ".join(t) + "\n" for _, t in tagged))
    (folder / "label").write_text("".join(e.intent + "\n" for e in examples))
    return folder


@pytest.fixture(scope="session")
def examples_for_bench() -> list[Example]:
    return bench_examples()


@pytest.fixture(scope="session")
def jointbert_data(tmp_path_factory, examples_for_bench) -> Path:
    """A JointBERT parent folder with train/ (every 4th example left out) and dev/ (those)."""
    root = tmp_path_factory.mktemp("jointbert")
    write_jointbert(root / "train", [e for i, e in enumerate(examples_for_bench) if i % 4])
    write_jointbert(root / "dev", examples_for_bench[::4])
    return root


@pytest.fixture(scope="session")
def jsonl_data(tmp_path_factory, examples_for_bench) -> Path:
    path = tmp_path_factory.mktemp("jsonl") / "data.jsonl"
    path.write_text("".join(json.dumps(e.model_dump()) + "\n" for e in examples_for_bench))
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, examples_for_bench) -> Path:
    """A randomly initialised 2-layer BERT with a word-level vocabulary of the data, as a folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    out = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w.lower() for e in examples_for_bench for w in e.text.split()})
    vocab = out / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizer(vocab=str(vocab)).save_pretrained(out)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(out)
    return out
