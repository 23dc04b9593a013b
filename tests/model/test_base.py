"""Loading the base model: fingerprints, clear errors, and the once-only default conversion."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

import bot.model.base as base_module
from bot.errors import ModelLoadError
from bot.model.base import DEFAULT_MODEL, DEFAULT_NAME, cache_dir, fingerprint, load_base_model, resolve_model

TARGET = "smollm2-135m-instruct"


# ---------------------------------------------------------------------------------- fingerprint

def test_fingerprint_changes_when_one_weight_changes(tokenizer, make_tiny_model):
    model = make_tiny_model(len(tokenizer))
    before = fingerprint(model, tokenizer)
    assert before == fingerprint(model, tokenizer) and len(before) == 16
    with torch.no_grad():
        model.model.layers[1].mlp.down_proj.weight[3, 5] += 1e-3
    assert fingerprint(model, tokenizer) != before


def test_fingerprint_is_stable_for_a_reloaded_copy(tiny_model_dir, tiny_base):
    again = load_base_model(str(tiny_model_dir), dtype="float32")
    assert again.fingerprint == tiny_base.fingerprint
    assert again.model is not tiny_base.model


def test_a_model_loaded_in_bfloat16_keeps_the_fingerprint_of_its_stored_weights(tiny_model_dir, tiny_base):
    half = load_base_model(str(tiny_model_dir), dtype="bfloat16")
    assert {p.dtype for p in half.model.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in tiny_base.model.parameters()} == {torch.float32}  # the fixture asks for float32
    assert half.fingerprint == tiny_base.fingerprint  # tables tuned under one type serve under the other


def test_auto_dtype_is_bfloat16_only_where_it_is_fast():
    assert base_module.resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    expected = torch.bfloat16 if base_module._bf16_is_fast() else torch.float32
    if not torch.backends.cpu.get_cpu_capability().startswith(("AVX512", "AMX")):
        expected = torch.float32
    assert base_module.resolve_dtype("auto", torch.device("cpu")) == expected
    with pytest.raises(ModelLoadError, match=r"unknown dtype 'fp8'\n  fix: use auto, float32 or bfloat16"):
        base_module.resolve_dtype("fp8", torch.device("cpu"))


def test_fingerprint_differs_for_other_weights(tokenizer, make_tiny_model, tiny_base):
    assert fingerprint(make_tiny_model(len(tokenizer), seed=1), tokenizer) != tiny_base.fingerprint


def test_loaded_model_is_frozen_in_eval_mode_with_a_pad_token(tiny_base, tiny_model_dir):
    assert not tiny_base.model.training
    assert not any(p.requires_grad for p in tiny_base.model.parameters())
    assert tiny_base.tokenizer.pad_token_id is not None
    assert tiny_base.name == str(tiny_model_dir)
    assert tiny_base.parameter_count == sum(p.numel() for p in tiny_base.model.parameters()) > 0


# ------------------------------------------------------------------------------- resolve / errors

def test_resolve_model_returns_a_local_folder(tiny_model_dir):
    name, where = resolve_model(str(tiny_model_dir))
    assert name == str(tiny_model_dir) and where == tiny_model_dir


def test_resolve_model_passes_a_hub_id_through():
    assert resolve_model("some-org/some-model") == ("some-org/some-model", "some-org/some-model")


@pytest.fixture
def offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once at import


@pytest.mark.parametrize("spec", ["missing-folder", "no-such-org/no-such-model-3f9a"])
def test_missing_model_raises_model_load_error_with_a_fix(offline, tmp_path, spec):
    spec = str(tmp_path / spec) if spec == "missing-folder" else spec
    with pytest.raises(ModelLoadError) as caught:
        load_base_model(spec)
    assert spec in str(caught.value) and "fix:" in str(caught.value)


@pytest.mark.parametrize("content", ["no model files", "tokenizer only"])
def test_folder_without_a_model_raises_model_load_error(offline, tmp_path, tokenizer, content):
    folder = tmp_path / "folder"
    folder.mkdir()
    if content == "tokenizer only":
        tokenizer.save_pretrained(folder)
    else:
        (folder / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="fix:"):
        load_base_model(str(folder), dtype="float32")


# ----------------------------------------------------------------------- the default conversion

@pytest.fixture
def fake_convert(monkeypatch, tmp_path):
    """Point the cache at a fresh folder and replace the slow GGUF conversion with a counter."""
    monkeypatch.setenv("BOT_CACHE_DIR", str(tmp_path / "cache"))
    calls: list = []

    def convert(gguf, out):
        calls.append(out)
        time.sleep(0.2)  # long enough for a second thread to arrive while the first converts
        out.mkdir(parents=True)
        (out / "config.json").write_text('{"converted": true}')

    monkeypatch.setattr(base_module, "_convert_gguf", convert)
    return calls


def test_cache_dir_follows_bot_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("BOT_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


def test_default_is_converted_once(fake_convert, tmp_path):
    first = base_module._converted_default()
    second = base_module._converted_default()
    assert first == second == tmp_path / "cache" / TARGET
    assert len(fake_convert) == 1
    assert (first / ".complete").is_file() and (first / "config.json").is_file()
    assert not list((tmp_path / "cache").glob(f"{TARGET}.tmp-*"))  # staging was moved into place


def test_resolve_default_uses_the_converted_folder(fake_convert, tmp_path):
    assert resolve_model(DEFAULT_MODEL) == (DEFAULT_NAME, tmp_path / "cache" / TARGET)


def test_leftover_staging_and_half_written_target_do_not_break_conversion(fake_convert, tmp_path):
    cache = tmp_path / "cache"
    for stale in (f"{TARGET}.tmp-{os.getpid()}", f"{TARGET}.tmp-999999", TARGET):  # crashed runs
        (cache / stale).mkdir(parents=True)
        (cache / stale / "config.json").write_text("half written")
    target = base_module._converted_default()
    assert len(fake_convert) == 1
    assert (target / ".complete").is_file()
    assert (target / "config.json").read_text() == '{"converted": true}'
    assert base_module._converted_default() == target and len(fake_convert) == 1


def test_failed_conversion_leaves_no_complete_target_and_is_retried(monkeypatch, fake_convert, tmp_path):
    real = base_module._convert_gguf

    def broken(gguf, out):
        out.mkdir(parents=True)
        raise RuntimeError("disk full")

    monkeypatch.setattr(base_module, "_convert_gguf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        base_module._converted_default()
    assert not (tmp_path / "cache" / TARGET / ".complete").exists()
    monkeypatch.setattr(base_module, "_convert_gguf", real)
    assert (base_module._converted_default() / ".complete").is_file()
    assert len(fake_convert) == 1


def test_two_threads_convert_once(fake_convert):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def call():
        try:
            barrier.wait()
            results.append(base_module._converted_default())
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(results) == 2 and results[0] == results[1]
    assert len(fake_convert) == 1
