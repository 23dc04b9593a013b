"""The typed manifest: written and read back, refused with the fix when corrupt or old, and the
warning for a table whose examples changed after it was tuned."""

from __future__ import annotations

import json

import pytest

from bot.errors import ConfigError
from bot.skills.manifest import (Manifest, ReaderKind, ReadoutSpec, data_hash, read_manifest, stale_warning,
                                 write_manifest)
from bot.types import Example

EXAMPLES = [Example(text="wake me at 7 am", intent="set", slots={"time": "7 am"}), Example(text="stop", intent="stop")]


def manifest(**changes) -> Manifest:
    raw = dict(base_model="m", base_fingerprint="f", reader=ReaderKind.readout, method="deep_prompt", kind="deep",
               virtual_tokens=4, readout=ReadoutSpec(intents=["set", "stop"], tags=["O", "B-time", "I-time"],
                                                    layers=[8, 14]),
               data_hash=data_hash(EXAMPLES), steps=3, tuning_seconds=1.5, created="2026-12-01T22:00:00")
    return Manifest(**{**raw, **changes})


def test_a_manifest_round_trips(tmp_path):
    write_manifest(tmp_path, manifest())
    assert read_manifest(tmp_path) == manifest()


def test_no_warning_while_the_examples_are_the_tuned_ones(tmp_path):
    write_manifest(tmp_path, manifest())
    assert stale_warning(tmp_path, EXAMPLES) is None


def test_changed_examples_give_a_warning_with_the_fix(tmp_path):
    write_manifest(tmp_path, manifest())
    changed = [*EXAMPLES, Example(text="halt", intent="stop")]
    warning = stale_warning(tmp_path, changed)
    assert "examples changed after this table was tuned (2026-12-01T22:00:00)" in warning
    assert "fix: re-tune with `bot tune" in warning


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "not valid JSON"), ("[1, 2]", "not a JSON object"),
    (json.dumps({"base_fingerprint": "f", "frame_format": "value-first/1"}), "generative reader"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_a_corrupt_or_old_manifest_is_one_clear_error(tmp_path, content, problem):
    path = tmp_path / "manifest.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError, match=problem) as caught:
        read_manifest(tmp_path)
    assert caught.value.path == str(path) and "bot tune" in caught.value.fix


def test_a_manifest_with_a_bad_field_names_it(tmp_path):
    raw = json.loads(manifest().model_dump_json())
    raw["readout"]["temperature"] = -1
    (tmp_path / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as caught:
        read_manifest(tmp_path)
    assert caught.value.field == "readout.temperature"
