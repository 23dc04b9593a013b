"""Tuning a table (deep prompt + read-out heads) with each method, saving it in peft's format with
heads and manifest, and loading it back: the right kind, the same weights, the same frames; and
refusals (another model, another reader, another label set, damaged files) that say how to fix them."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from bot.config import TableMethod, TuningConfig
from bot.errors import ConfigError, TableMismatchError
from bot.model.base import load_base_model
from bot.model.tables import TableKind, load_table
from bot.model.tuned_reader import TunedReader
from bot.skills.manifest import read_manifest
from bot.skills.manifest import data_hash
from bot.tuning.tune import tune_table
from bot.types import Example

SETTINGS = dict(steps=6, batch_size=4, eval_every=3, dev_fraction=0.25, virtual_tokens=4, warm_start=0.0)
TEXTS = ["wake me up at 7 am", "weather in paris", "cancel my alarm", "will it snow tonight"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, tiny_model_dir, skill_config, examples):
    """One tuned table per method, each on its own freshly loaded copy of the tiny model."""
    out = {}
    for method in TableMethod:
        base = load_base_model(str(tiny_model_dir), dtype="float32")
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
    for name in ("adapter_config.json", "adapter_model.safetensors", "heads.safetensors", "manifest.json"):
        assert (table_dir / name).is_file(), name
    assert not table_dir.with_name("table.partial").exists()
    manifest = read_manifest(table_dir)
    assert manifest.base_fingerprint == tiny_base.fingerprint
    assert manifest.reader.value == "readout"
    assert manifest.virtual_tokens == 4
    assert manifest.data_hash == data_hash(examples)
    assert manifest.method == method.value and manifest.kind == KIND[method].value
    assert manifest.steps == result.steps == 6
    assert manifest.readout.intents == ["set_alarm", "cancel_alarm", "weather"]
    assert manifest.readout.tags == ["O", "B-time", "I-time", "B-place", "I-place"]
    assert manifest.dev.n == 3
    for value in (manifest.dev.frame_accuracy, manifest.dev.intent_accuracy, manifest.dev.slot_f1):
        assert 0.0 <= value <= 1.0  # 3 dev examples, so real numbers, not NaN
    assert manifest.dev.frame_low <= manifest.dev.frame_accuracy <= manifest.dev.frame_high
    assert manifest.settings["virtual_tokens"] == 4
    assert len(result.losses) == 6 and all(torch.isfinite(torch.tensor(result.losses)))


@METHODS
def test_peft_loads_the_saved_adapter(tuned, tiny_model_dir, method):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, table_dir, _ = tuned[method]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), table_dir)
    saved = next(iter(load_file(str(table_dir / "adapter_model.safetensors")).values()))
    assert saved.dtype == torch.float16  # half the bytes on disk; peft casts it back on load
    torch.testing.assert_close(model.prompt_encoder["default"].embedding.weight.detach(), saved.float())


@METHODS
def test_load_table_gives_saved_weights_and_kind(tuned, tiny_base, runtime, skill_config, method):
    result, table_dir, _ = tuned[method]
    table = load_table(table_dir, fingerprint=tiny_base.fingerprint, width=runtime.width, config=skill_config)
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
    loaded = load_table(table_dir, fingerprint=tiny_base.fingerprint, width=runtime.width, config=skill_config)
    fresh = TunedReader(runtime, skill_config, result.table).read(TEXTS)
    again = TunedReader(runtime, skill_config, loaded).read(TEXTS)
    assert [(r.frame.intent, r.frame.slots) for r in fresh] == [(r.frame.intent, r.frame.slots) for r in again]
    for one, other in zip(fresh, again):  # heads are stored in 16 bits, and tuning read them so
        assert one.frame.confidence == pytest.approx(other.frame.confidence, abs=1e-5)
    assert loaded.spec == result.table.spec  # the fitted temperature included


def test_tuning_leaves_the_base_model_untouched(tuned, tiny_base):
    from bot.model.base import fingerprint

    for _, _, base in tuned.values():
        assert fingerprint(base.model, base.tokenizer) == tiny_base.fingerprint
        assert not any(p.requires_grad for p in base.model.parameters())


def test_other_fingerprint_is_refused_with_a_fix(tuned, runtime, skill_config):
    _, table_dir, _ = tuned[TableMethod.deep_prompt]
    with pytest.raises(TableMismatchError) as caught:
        load_table(table_dir, fingerprint="0123456789abcdef", width=runtime.width, config=skill_config)
    message = str(caught.value)
    assert read_manifest(table_dir).base_fingerprint in message and "0123456789abcdef" in message
    assert "fix:" in message and "bot tune" in message


def _copy(table_dir, tmp_path):
    import shutil

    shutil.copytree(table_dir, tmp_path / "table")
    return tmp_path / "table"


def test_table_of_the_generative_reader_is_refused_with_a_fix(tuned, tiny_base, runtime, skill_config, tmp_path):
    old = _copy(tuned[TableMethod.deep_prompt][1], tmp_path)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["reader"]
    manifest["frame_format"] = "value-first/1"  # what a table of the generative reader recorded
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="generative reader.*\n  fix: re-tune"):
        load_table(old, fingerprint=tiny_base.fingerprint, width=runtime.width, config=skill_config)


def test_table_of_another_label_set_is_refused_with_a_fix(tuned, tiny_base, runtime, make_skill):
    _, table_dir, _ = tuned[TableMethod.deep_prompt]
    renamed = make_skill(slots=[{"name": "time"}, {"name": "city"}])
    with pytest.raises(TableMismatchError, match="slot tags .*B-place.*B-city.*\n  fix: re-tune"):
        load_table(table_dir, fingerprint=tiny_base.fingerprint, width=runtime.width, config=renamed)
    fewer = make_skill(intents=[{"name": "set_alarm"}, {"name": "weather"}])
    with pytest.raises(TableMismatchError, match="intents .*cancel_alarm"):
        load_table(table_dir, fingerprint=tiny_base.fingerprint, width=runtime.width, config=fewer)


@pytest.mark.parametrize("damage", ["truncated weights", "truncated heads", "corrupt manifest", "empty weights"])
def test_a_damaged_table_is_one_clear_error(tuned, tiny_base, runtime, skill_config, tmp_path, damage):
    broken = _copy(tuned[TableMethod.deep_prompt][1], tmp_path)
    name = {"truncated weights": "adapter_model.safetensors", "truncated heads": "heads.safetensors",
            "corrupt manifest": "manifest.json", "empty weights": "adapter_model.safetensors"}[damage]
    data = (broken / name).read_bytes()
    (broken / name).write_bytes(b"" if damage == "empty weights" else data[: len(data) // 2])
    with pytest.raises(ConfigError) as caught:
        load_table(broken, fingerprint=tiny_base.fingerprint, width=runtime.width, config=skill_config)
    assert caught.value.path.endswith(name) and "re-tune" in caught.value.fix


def test_folder_without_manifest_raises_config_error(tmp_path, skill_config):
    with pytest.raises(ConfigError) as caught:
        load_table(tmp_path, fingerprint="x", width=32, config=skill_config)
    assert caught.value.path.endswith("manifest.json") and "bot tune" in caught.value.fix


def test_manifest_without_weights_raises_config_error(tuned, tiny_base, runtime, skill_config, tmp_path):
    broken = _copy(tuned[TableMethod.deep_prompt][1], tmp_path)
    (broken / "adapter_model.safetensors").unlink()
    with pytest.raises(ConfigError) as caught:
        load_table(broken, fingerprint=tiny_base.fingerprint, width=runtime.width, config=skill_config)
    assert caught.value.path.endswith("adapter_model.safetensors") and caught.value.fix


def test_tuning_again_replaces_the_table(tiny_model_dir, skill_config, examples, tmp_path):
    table_dir = tmp_path / "table"
    settings = TuningConfig(steps=2, batch_size=4, dev_fraction=0.0, virtual_tokens=2, warm_start=0.0)
    base = load_base_model(str(tiny_model_dir), dtype="float32")
    tune_table(base, skill_config, examples, model_dir=str(tiny_model_dir), out_dir=table_dir,
               settings=settings, progress=False)
    (table_dir / "stale.txt").write_text("from the first run")
    result = tune_table(base, skill_config, examples[:8], model_dir=str(tiny_model_dir), out_dir=table_dir,
                        settings=settings.model_copy(update={"virtual_tokens": 3}), progress=False)
    assert not (table_dir / "stale.txt").exists()
    manifest = read_manifest(table_dir)
    assert manifest.virtual_tokens == 3 and manifest.data_hash == data_hash(examples[:8])
    assert result.table.n_virtual == 3
    assert all(p.name != "table.partial" for p in tmp_path.iterdir())


def test_deep_prompt_loss_falls_on_a_tiny_repetitive_set(tiny_model_dir, skill_config, tmp_path):
    examples = ([Example(text=f"wake me at {h} am", intent="set_alarm", slots={"time": f"{h} am"}) for h in range(1, 5)]
                + [Example(text=f"weather in {c}", intent="weather", slots={"place": c})
                   for c in ("paris", "oslo", "rome", "lima")])
    settings = TuningConfig(method=TableMethod.deep_prompt, steps=30, batch_size=8, learning_rate=0.05,
                            virtual_tokens=4, dev_fraction=0.0, warm_start=0.0)
    result = tune_table(load_base_model(str(tiny_model_dir), dtype="float32"), skill_config, examples,
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
    base = load_base_model(str(model_dir), dtype="float32")
    table_dir = model_dir / "table"
    result = tune_table(base, skill_config, examples, model_dir=str(model_dir), out_dir=table_dir,
                        settings=TuningConfig(steps=1, batch_size=4, dev_fraction=0.0, virtual_tokens=2,
                                              warm_start=0.0), progress=False)
    assert result.table.kind == TableKind.deep and read_manifest(table_dir).kind == "deep"
    loaded = load_table(table_dir, fingerprint=base.fingerprint, width=32, config=skill_config)
    assert loaded.kind == TableKind.deep


def test_warm_start_fits_the_heads_before_the_first_step(tiny_model_dir, skill_config, examples, tmp_path):
    """With the heads fitted on cached states alone (no prompt step at all), the training set is
    read far better than by the randomly started heads."""
    base = load_base_model(str(tiny_model_dir), dtype="float32")
    cold, warm = (tune_table(base, skill_config, examples, model_dir=str(tiny_model_dir),
                             out_dir=tmp_path / name / "table", progress=False,
                             settings=TuningConfig(steps=1, batch_size=4, dev_fraction=0.0, virtual_tokens=2,
                                                   warm_start=share, head_learning_rate=0.01))
                  for name, share in (("cold", 0.0), ("warm", 0.5)))
    from bot.model.runtime import Runtime
    from bot.tuning.metrics import score

    runtime = Runtime(base)
    read = lambda r: score(examples, [x.frame for x in TunedReader(runtime, skill_config, r.table).read(
        [e.text for e in examples])])
    assert read(warm).intent_accuracy >= read(cold).intent_accuracy + 0.25


def _warm_trainer(tiny_model_dir, skill_config, examples):
    import math

    from bot.model.training import ReadoutTrainer

    base = load_base_model(str(tiny_model_dir), dtype="float32")
    settings = TuningConfig(batch_size=4, virtual_tokens=2, warm_start=0.5, head_learning_rate=0.01)
    trainer = ReadoutTrainer(base, skill_config, settings, str(tiny_model_dir))
    train, held_out = trainer.items(examples[::2]), trainer.items(examples[1::2])
    trainer.warm_start(train, cache_until=math.inf, train_until=math.inf)
    return trainer, train, held_out


def _intent_hits(trainer, skill_config, examples) -> int:
    frames = TunedReader(trainer.runtime, skill_config, trainer.snapshot("t")).read([e.text for e in examples])
    return sum(r.frame.intent == e.intent for r, e in zip(frames, examples))


def test_refit_teaches_the_heads_the_held_out_examples_too(tiny_model_dir, skill_config, examples):
    """Refitting on the warm start's cached states plus the held-out examples reads those better
    than the heads that never saw them; the prompt is left as it was."""
    import math

    trainer, train, held_out = _warm_trainer(tiny_model_dir, skill_config, examples)
    prompt = trainer.weights().detach().clone()
    before = _intent_hits(trainer, skill_config, examples[1::2])
    assert read_by_refit(trainer, train, held_out) == len(held_out)  # the rest were cached
    assert _intent_hits(trainer, skill_config, examples[1::2]) > before
    assert torch.equal(trainer.weights().detach(), prompt)


def test_prompt_steps_hold_the_warm_heads_and_a_refit_reads_the_states_again(tiny_model_dir, skill_config, examples):
    """After a warm start a step moves the prompt, not the heads; the cached states are then stale,
    so the refit reads every example again under the new prompt; past its deadline it leaves
    the heads alone."""
    import time

    trainer, train, held_out = _warm_trainer(tiny_model_dir, skill_config, examples)
    heads = {k: v.clone() for k, v in trainer.heads.state_dict().items()}
    prompt = trainer.weights().detach().clone()
    trainer.step(held_out[:4])
    assert not torch.equal(trainer.weights().detach(), prompt)
    assert all(torch.equal(v, heads[k]) for k, v in trainer.heads.state_dict().items())
    kept = trainer.heads
    assert not trainer.refit(train, held_out, until=time.monotonic())
    assert trainer.heads is kept
    assert read_by_refit(trainer, train, held_out) == len(train) + len(held_out)
    assert trainer.heads is not kept


def test_fresh_heads_start_at_the_intents_words_read_under_the_prompt(tiny_model_dir, skill_config):
    """Before any example is seen, the intent head leans on what each intent's description means
    to the model (its state under the starting prompt), not on random weights."""
    from bot.model.training import ReadoutTrainer

    base = load_base_model(str(tiny_model_dir), dtype="float32")
    trainer = ReadoutTrainer(base, skill_config, TuningConfig(virtual_tokens=2), str(tiny_model_dir))
    names = trainer.intent_word_states()[:, 1]  # the default pool reads the mean
    centred = names - names.mean(0)
    cosines = torch.nn.functional.cosine_similarity(trainer.heads.intent.weight, centred, dim=1)
    assert torch.allclose(cosines, torch.ones(len(skill_config.intents)), atol=1e-4)


def read_by_refit(trainer, train, held_out) -> int:
    """How many examples' states a refit reads through the model (the intents' words aside)."""
    import math

    read, cache = [], trainer._cache_features
    trainer._cache_features = lambda items, until, report: read.extend(items) or cache(items, until, report)
    assert trainer.refit(train, held_out, until=math.inf)
    del trainer._cache_features
    examples = {id(item) for item in [*train, *held_out]}
    return sum(id(item) in examples for item in read)


def test_a_refitted_table_is_what_is_saved_and_its_manifest_says_so(tiny_model_dir, skill_config, examples, tmp_path):
    """With a warm start and a dev split the heads are refitted on every example at the end; the
    manifest says the dev figures were read before, and the table on disk reads as the refitted one."""
    from bot.model.runtime import Runtime
    from bot.tuning.tune import REFIT_ESTIMATE

    base = load_base_model(str(tiny_model_dir), dtype="float32")
    result = tune_table(base, skill_config, examples, model_dir=str(tiny_model_dir), out_dir=tmp_path / "table",
                        settings=TuningConfig(steps=2, batch_size=4, dev_fraction=0.25, virtual_tokens=2,
                                              warm_start=0.5, head_learning_rate=0.01), progress=False)
    assert read_manifest(tmp_path / "table").dev.estimate == REFIT_ESTIMATE
    runtime = Runtime(base)
    loaded = load_table(tmp_path / "table", fingerprint=base.fingerprint, width=32, config=skill_config)
    read = lambda table: [r.frame for r in TunedReader(runtime, skill_config, table).read(TEXTS)]
    assert read(loaded) == read(result.table)


def test_a_refit_the_time_cap_cut_is_reported_not_silent(tiny_model_dir, skill_config, examples, tmp_path,
                                                          monkeypatch):
    """The router's 5-minute cap left its refit no time: the manifest and `bot tune` say so."""
    from bot.tuning import tune
    from bot.tuning.tune import REFIT_SKIPPED

    monkeypatch.setattr(tune, "_refit", lambda *args: False)  # as when `until` has passed
    base = load_base_model(str(tiny_model_dir), dtype="float32")
    result = tune_table(base, skill_config, examples, model_dir=str(tiny_model_dir), out_dir=tmp_path / "table",
                        settings=TuningConfig(steps=2, batch_size=4, dev_fraction=0.25, virtual_tokens=2,
                                              warm_start=0.5), progress=False)
    dev = read_manifest(tmp_path / "table").dev
    assert dev.estimate == "dev split" and REFIT_SKIPPED in (dev.warning or "")
    assert result.dev.warning == dev.warning


def test_echo_unset_means_echo_only_for_a_skill_with_slots(tiny_model_dir, make_skill):
    """An intent reads as well from one copy of the turn, at half the tokens; tags need the echo."""
    from bot.model.training import ReadoutTrainer

    base = load_base_model(str(tiny_model_dir), dtype="float32")  # peft wraps it: not the shared one
    slotless = make_skill(slots=[], intents=[{"name": "greet"}, {"name": "bye"}])
    for config, echo in ((make_skill(), True), (slotless, False)):
        trainer = ReadoutTrainer(base, config, TuningConfig(virtual_tokens=2), str(tiny_model_dir))
        assert trainer.heads.spec.echo is echo
    forced = ReadoutTrainer(base, slotless, TuningConfig(virtual_tokens=2, echo=True), str(tiny_model_dir))
    assert forced.heads.spec.echo is True
