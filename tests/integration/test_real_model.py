"""Integration: the embedded SmolLM2 model, a short tuning run, and the shipped alarm skill."""

from __future__ import annotations

from pathlib import Path

import json
import os
import subprocess
import sys

import pytest

from bot.config import PromptMode, TuningConfig
from bot.skills.examples import find_value_span
from bot.skills.skill import load_skill
from bot.types import Frame

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_default_model_loads_from_the_embedded_gguf(real_base, real_cache_dir):
    assert "SmolLM2-135M-Instruct" in real_base.name
    assert real_base.parameter_count == 134_515_008
    assert len(real_base.fingerprint) == 16
    assert (real_cache_dir / "smollm2-135m-instruct" / ".complete").is_file()


def test_short_tuning_run_raises_dev_frame_accuracy(real_base, tmp_path):
    from bot.model.base import resolve_model
    from bot.tuning.tune import tune_table

    skill = load_skill(REPO / "skills" / "alarm")
    settings = TuningConfig(steps=6, batch_size=8, eval_every=3, dev_fraction=0.25, max_minutes=1.0)
    result = tune_table(real_base, skill.config, skill.examples()[:96], model_dir=str(resolve_model("default")[1]),
                        out_dir=tmp_path / "table", settings=settings, progress=False)
    (_, before), best = result.dev_history[0], max(frame for _, frame in result.dev_history)
    assert result.dev_history[0][0] == 0 and best >= before + 0.3, result.dev_history
    assert result.dev.frame_accuracy == best
    assert (tmp_path / "table" / "manifest.json").is_file()


def _assert_valid(frame, config, text):
    assert frame.intent in config.intent_names
    for name, value in frame.slots.items():
        assert name in config.slot_names
        assert find_value_span(text, value) is not None


@pytest.mark.parametrize("mode", list(PromptMode))
def test_every_mode_reads_a_valid_frame(real_runtime, mode):
    from bot.model.readers import reader_for

    skill = load_skill(REPO / "skills" / "alarm")
    text = "wake me up at six am tomorrow"
    frame = reader_for(real_runtime, skill, mode).read([text])[0].frame
    _assert_valid(frame, skill.config, text)


def test_shipped_alarm_table_reads_time(real_runtime):
    from bot.model.readers import reader_for

    skill = load_skill(REPO / "skills" / "alarm")
    frame = reader_for(real_runtime, skill).read(["set an alarm for 7 am"])[0].frame
    assert frame.intent == "alarm_set"
    assert frame.slots.get("time") == "7 am"


def test_cli_predict_reads_the_shipped_alarm_skill(real_cache_dir):
    text = "set an alarm for 7 am"
    env = {**os.environ, "BOT_CACHE_DIR": str(real_cache_dir)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "predict", "skills/alarm", text], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    frame = Frame.model_validate(json.loads(done.stdout))
    assert frame.intent == "alarm_set" and frame.slots == {"time": "7 am"}
    assert 0.5 < frame.confidence <= 1.0
