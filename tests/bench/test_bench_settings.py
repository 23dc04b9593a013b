from __future__ import annotations

from pathlib import Path

import pytest

from bot.bench.settings import QUICK, BenchSettings, BertSettings, System
from bot.errors import ConfigError


def test_bert_epochs_rule():
    bert = BertSettings()
    assert bert.epochs_for(12_859) == 3 and bert.epochs_for(1_000) == 10 and bert.epochs_for(5_000) == 6
    assert bert.steps_for(1_000) == 10 * 32
    assert BertSettings(max_steps=7).steps_for(1_000) == 7 and BertSettings(epochs=1).steps_for(64) == 2


def test_quick_fills_in_what_was_not_given():
    settings = BenchSettings.from_options(quick=True, data=Path("d"), max_steps=3, max_eval=None)
    assert settings.max_steps == 3 and settings.max_train == QUICK["max_train"]
    assert settings.max_eval == QUICK["max_eval"]
    assert settings.bert_settings().max_steps == 3  # --max-steps caps BERT too
    assert settings.systems == [System.bert, System.zero_shot, System.few_shot, System.tuned]


def test_systems_option_and_errors_name_the_option():
    settings = BenchSettings.from_options(data=Path("d"), systems="tuned, bert")
    assert settings.systems == [System.tuned, System.bert]
    with pytest.raises(ConfigError, match="--systems"):
        BenchSettings.from_options(data=Path("d"), systems="gpt")
    with pytest.raises(ConfigError, match="--max-train"):
        BenchSettings.from_options(data=Path("d"), max_train=0)


def test_system_modes():
    assert System.bert.mode is None and not System.bert.prompted
    assert System.tuned.mode.value == "tuned" and not System.tuned.prompted
    assert System.few_shot.prompted
