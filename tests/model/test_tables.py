"""Tuning a table with each method, saving it in peft's format with our manifest, and loading it
back: the right kind, the same weights, the same frames; and refusals that say how to fix them."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from bot.config import PromptMode, TableMethod, TuningConfig
from bot.errors import ConfigError, TableMismatchError
from bot.model.decoding import FRAME_FORMAT
from bot.model.base import load_base_model
from bot.model.reader import FrameReader
from bot.model.tables import TableKind, load_table, read_manifest
from bot.tuning.tune import data_hash, tune_table
from bot.types import Example

SETTINGS = dict(steps=6, batch_size=4, eval_every=3, dev_fraction=0.25, virtual_tokens=4)
TEXTS = ["wake me up at 7 am", "weather in paris", "cancel my alarm", "will it snow tonight"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, tiny_model_dir, skill_config, examples):
    """One tuned table per method, each on its own freshly loaded copy of the tiny model."""
    out = {}
    for method in TableMethod:
        base = load_base_model(str(tiny_model_dir))
        table_dir = tmp_path_factory.mktemp(f"table-{method.value}") / "table"
        result = tune_table(base, skill_config, examples, model_dir=str(tiny_model_dir), out_dir=table_dir,
                            settings=TuningConfig(method=method, **SETTINGS), progress=False)
        out[method] = (result, table_dir, base)
    return out


METHODS = pytest.mark.parametrize("method", list(TableMethod), ids=lambda m: m.value)
KIND = {TableMethod.deep_prompt: TableKind.deep, TableMethod.p_tuning: TableKind.input,
        TableMethod.prompt_tuning: TableKind.input}


@METHODS
def test_folder_has_peft_files_and_manifest(tuned, tiny_base, examples, method):
    result, table_dir, _ = tuned[method]
    for name in ("adapter_config.json", "adapter_model.safetensors", "manifest.json"):
        assert (table_dir / name).is_file(), name
    assert not table_dir.with_name("table.partial").exists()
    manifest = read_manifest(table_dir)
    assert manifest["base_fingerprint"] == tiny_base.fingerprint
    assert manifest["virtual_tokens"] == 4
    assert manifest["data_hash"] == data_hash(examples)
    assert manifest["method"] == method.value and manifest["kind"] == KIND[method].value
    assert manifest["steps"] == result.steps == 6
    assert isinstance(manifest["tuning_seconds"], (int, float)) and manifest["tuning_seconds"] >= 0
    assert set(manifest["dev"]) == {"frame_accuracy", "intent_accuracy", "slot_f1"}
    for value in manifest["dev"].values():
        assert 0.0 <= value <= 1.0  # 3 dev examples, so real numbers, not NaN
    assert manifest["settings"]["virtual_tokens"] == 4
    assert len(result.losses) == 6 and all(torch.isfinite(torch.tensor(result.losses)))


@METHODS
def test_peft_loads_the_saved_adapter(tuned, tiny_model_dir, method):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, table_dir, _ = tuned[method]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), table_dir)
    saved = next(iter(load_file(str(table_dir / "adapter_model.safetensors")).values()))
    torch.testing.assert_close(model.prompt_encoder["default"].embedding.weight.detach(), saved)


@METHODS
def test_load_table_gives_saved_weights_and_kind(tuned, tiny_base, runtime, method):
    result, table_dir, _ = tuned[method]
    table = load_table(table_dir, fingerprint=tiny_base.fingerprint,
                       hidden_size=tiny_base.model.config.hidden_size)
    saved = next(iter(load_file(str(table_dir / "adapter_model.safetensors")).values()))
    torch.testing.assert_close(table.weights, saved.float())
    torch.testing.assert_close(table.weights, result.table.weights)  # the best checkpoint was saved
    assert table.kind == result.table.kind == KIND[method]
    assert table.n_virtual == 4
    width = runtime.layers * 2 * runtime.kv_heads * runtime.head_dim if table.kind == TableKind.deep \
        else tiny_base.model.config.hidden_size
    assert table.weights.shape == (4, width)
    assert table.fingerprint == tiny_base.fingerprint and table.version


@METHODS
def test_loaded_table_reads_the_same_frames_as_the_tuned_one(tuned, tiny_base, runtime, skill_config, method):
    result, table_dir, _ = tuned[method]
    loaded = load_table(table_dir, fingerprint=tiny_base.fingerprint,
                        hidden_size=tiny_base.model.config.hidden_size)
    fresh = FrameReader(runtime, skill_config, PromptMode.tuned, table=result.table).read(TEXTS)
    again = FrameReader(runtime, skill_config, PromptMode.tuned, table=loaded).read(TEXTS)
    assert [(r.frame.intent, r.frame.slots) for r in fresh] == [(r.frame.intent, r.frame.slots) for r in again]


def test_tuning_leaves_the_base_model_untouched(tuned, tiny_base):
    from bot.model.base import fingerprint

    for _, _, base in tuned.values():
        assert fingerprint(base.model, base.tokenizer) == tiny_base.fingerprint
        assert not any(p.requires_grad for p in base.model.parameters())


def test_other_fingerprint_is_refused_with_a_fix(tuned, tiny_base):
    _, table_dir, _ = tuned[TableMethod.deep_prompt]
    with pytest.raises(TableMismatchError) as caught:
        load_table(table_dir, fingerprint="0123456789abcdef", hidden_size=tiny_base.model.config.hidden_size)
    message = str(caught.value)
    assert tiny_base.fingerprint in message and "0123456789abcdef" in message
    assert "fix:" in message and "bot tune" in message


def test_table_of_another_frame_format_is_refused_with_a_fix(tuned, tiny_base, tmp_path):
    import shutil

    _, table_dir, _ = tuned[TableMethod.deep_prompt]
    old = tmp_path / "table"
    shutil.copytree(table_dir, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["frame_format"]  # a table from before the value-first frame format
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TableMismatchError, match="slot-first/0.*\n  fix: re-tune"):
        load_table(old, fingerprint=tiny_base.fingerprint, hidden_size=tiny_base.model.config.hidden_size)


def test_folder_without_manifest_raises_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_table(tmp_path, fingerprint="x", hidden_size=32)
    assert caught.value.path.endswith("manifest.json") and "bot tune" in caught.value.fix


def test_manifest_without_weights_raises_config_error(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"base_fingerprint": "x", "frame_format": FRAME_FORMAT}))
    with pytest.raises(ConfigError) as caught:
        load_table(tmp_path, fingerprint="x", hidden_size=32)
    assert caught.value.path.endswith("adapter_model.safetensors") and caught.value.fix


def test_tuning_again_replaces_the_table(tiny_model_dir, skill_config, examples, tmp_path):
    table_dir = tmp_path / "table"
    settings = TuningConfig(steps=2, batch_size=4, dev_fraction=0.0, virtual_tokens=2)
    base = load_base_model(str(tiny_model_dir))
    tune_table(base, skill_config, examples, model_dir=str(tiny_model_dir), out_dir=table_dir,
               settings=settings, progress=False)
    (table_dir / "stale.txt").write_text("from the first run")
    result = tune_table(base, skill_config, examples[:8], model_dir=str(tiny_model_dir), out_dir=table_dir,
                        settings=settings.model_copy(update={"virtual_tokens": 3}), progress=False)
    assert not (table_dir / "stale.txt").exists()
    manifest = read_manifest(table_dir)
    assert manifest["virtual_tokens"] == 3 and manifest["data_hash"] == data_hash(examples[:8])
    assert result.table.n_virtual == 3
    assert all(p.name != "table.partial" for p in tmp_path.iterdir())


def test_deep_prompt_loss_falls_on_a_tiny_repetitive_set(tiny_model_dir, skill_config, tmp_path):
    examples = ([Example(text=f"wake me at {h} am", intent="set_alarm", slots={"time": f"{h} am"}) for h in range(1, 5)]
                + [Example(text=f"weather in {c}", intent="weather", slots={"place": c})
                   for c in ("paris", "oslo", "rome", "lima")])
    settings = TuningConfig(method=TableMethod.deep_prompt, steps=30, batch_size=8, learning_rate=0.05,
                            virtual_tokens=4, dev_fraction=0.0)
    result = tune_table(load_base_model(str(tiny_model_dir)), skill_config, examples,
                        model_dir=str(tiny_model_dir), out_dir=tmp_path / "table", settings=settings,
                        progress=False)
    assert len(result.losses) == 30
    first, last = sum(result.losses[:5]) / 5, sum(result.losses[-5:]) / 5
    assert first > last, result.losses


def test_deep_table_whose_width_equals_hidden_size_loads_as_deep(tmp_path_factory, tokenizer, skill_config,
                                                                 examples, make_tiny_model):
    model_dir = tmp_path_factory.mktemp("one-layer")
    make_tiny_model(len(tokenizer), layers=1).save_pretrained(model_dir)  # deep width 1*2*2*8 == hidden 32
    tokenizer.save_pretrained(model_dir)
    base = load_base_model(str(model_dir))
    table_dir = model_dir / "table"
    result = tune_table(base, skill_config, examples, model_dir=str(model_dir), out_dir=table_dir,
                        settings=TuningConfig(steps=1, batch_size=4, dev_fraction=0.0, virtual_tokens=2),
                        progress=False)
    assert result.table.kind == TableKind.deep and read_manifest(table_dir)["kind"] == "deep"
    loaded = load_table(table_dir, fingerprint=base.fingerprint, hidden_size=base.model.config.hidden_size)
    assert loaded.kind == TableKind.deep
