"""`skill.yaml` loading: a valid file round-trips, and every problem names file, line, field and fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.config import PromptMode, SkillConfig, TableMethod, load_skill_config
from bot.errors import ConfigError

GOOD = """\
name: alarms
description: Set and cancel alarms.
intents:
  - name: set_alarm
    description: set an alarm
    required_slots: [time]
  - name: cancel_alarm
slots:
  - name: time
  - name: place
mode: few_shot
tuning:
  method: p_tuning
  steps: 20
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skill.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_skill_config(path)
    err = caught.value
    assert err.path == str(path) and str(path) in str(err)
    assert err.fix and f"fix: {err.fix}" in str(err)
    return err


def line_of(text: str, pattern: str) -> int:
    """The first line matching a regular expression."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if re.search(pattern, line))


def test_valid_config_loads_with_defaults(tmp_path):
    config = load_skill_config(write(tmp_path, GOOD))
    assert config.intent_names == ["set_alarm", "cancel_alarm"] and config.slot_names == ["time", "place"]
    assert config.intent("set_alarm").required_slots == ["time"]
    assert config.mode == PromptMode.few_shot
    assert config.tuning.method == TableMethod.p_tuning and config.tuning.steps == 20
    assert config.tuning.virtual_tokens == 16 and config.few_shot_examples == 8  # defaults


def test_valid_config_round_trips_through_yaml(tmp_path):
    config = load_skill_config(write(tmp_path, GOOD))
    dumped = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    again = load_skill_config(write(tmp_path, dumped))
    assert again == config


def test_minimal_config_defaults_to_tuned_mode(tmp_path):
    config = load_skill_config(write(tmp_path, "name: x\nintents:\n  - name: hi\n"))
    assert config.mode == PromptMode.tuned and config.slots == [] and config.description == ""


def test_missing_file(tmp_path):
    path = tmp_path / "nope" / "skill.yaml"
    with pytest.raises(ConfigError) as caught:
        load_skill_config(path)
    assert caught.value.path == str(path) and "not found" in caught.value.problem
    assert "bot new" in caught.value.fix


def test_bad_yaml_names_the_line(tmp_path):
    text = GOOD.replace("mode: few_shot", "mode: : few_shot")
    err = error_for(tmp_path, text)
    assert err.line == line_of(text, "mode: :") and f"skill.yaml:{err.line}:" in str(err)
    assert "YAML" in err.problem


def test_bad_indentation_names_the_line(tmp_path):
    text = GOOD.replace("    required_slots", "   required_slots")
    err = error_for(tmp_path, text)
    assert err.line == line_of(text, "required_slots")


def test_not_a_mapping(tmp_path):
    err = error_for(tmp_path, "- a\n- b\n")
    assert "mapping" in err.problem


def test_unknown_top_level_field_says_remove(tmp_path):
    text = GOOD + "colour: red\n"
    err = error_for(tmp_path, text)
    assert err.field == "colour" and err.line == line_of(text, "colour")
    assert "remove" in err.fix and "field 'colour'" in str(err)


def test_unknown_nested_field_names_its_path_and_line(tmp_path):
    text = GOOD.replace("  - name: cancel_alarm", "  - name: cancel_alarm\n    respnse: ok")
    err = error_for(tmp_path, text)
    assert err.field == "intents.1.respnse" and err.line == line_of(text, "respnse") and "remove" in err.fix


@pytest.mark.parametrize("kind", ["intents", "slots"])
def test_duplicate_names(tmp_path, kind):
    text = GOOD.replace("cancel_alarm", "set_alarm") if kind == "intents" else GOOD.replace("place", "time")
    err = error_for(tmp_path, text)
    assert err.field == kind and err.line == line_of(text, f"^{kind}:")
    assert "appears twice" in err.problem


def test_bad_enum_value_for_mode_lists_allowed_values(tmp_path):
    text = GOOD.replace("mode: few_shot", "mode: fewshot")
    err = error_for(tmp_path, text)
    assert err.field == "mode" and err.line == line_of(text, "^mode:")
    for mode in PromptMode:
        assert mode.value in err.fix


def test_out_of_range_tuning_setting(tmp_path):
    text = GOOD.replace("steps: 20", "steps: 0")
    err = error_for(tmp_path, text)
    assert err.field == "tuning.steps" and err.line == line_of(text, "^  steps:")


def test_required_slot_not_declared_names_intent_and_slot(tmp_path):
    err = error_for(tmp_path, GOOD.replace("[time]", "[when]"))
    assert "set_alarm" in err.problem and "'when'" in err.problem


def test_required_slot_not_declared_names_line_field_and_fix(tmp_path):
    text = GOOD.replace("[time]", "[when]")
    err = error_for(tmp_path, text)
    assert err.line == line_of(text, "required_slots")
    assert err.field is not None and "required_slots" in err.field
    assert "slots" in err.fix and err.fix != "correct the value"


def test_bad_intent_name_names_its_own_line(tmp_path):
    text = GOOD.replace("  - name: cancel_alarm", "  - name: 2cancel")
    err = error_for(tmp_path, text)
    assert err.field == "intents.1.name" and "letter" in err.fix
    assert err.line == line_of(text, "2cancel")


def test_config_object_rejects_unknown_fields_directly():
    with pytest.raises(ValueError, match=r"extra\n  Extra inputs are not permitted"):
        SkillConfig.model_validate({"name": "x", "intents": [{"name": "a"}], "extra": 1})


def test_intent_slots_default_to_every_slot_and_may_be_narrowed(tmp_path):
    config = load_skill_config(write(tmp_path, GOOD.replace("    required_slots: [time]\n",
                                                              "    required_slots: [time]\n    slots: [time]\n")))
    assert config.intent_slots == {"set_alarm": ["time"], "cancel_alarm": ["time", "place"]}


def test_intent_slot_not_declared_names_line_field_and_fix(tmp_path):
    text = GOOD.replace("    required_slots: [time]\n", "    required_slots: [time]\n    slots: [time, when]\n")
    err = error_for(tmp_path, text)
    assert "'when'" in err.problem and err.line == line_of(text, r"slots: \[time, when\]")
    assert err.field is not None and err.field.endswith("slots") and "under 'slots'" in err.fix


def test_required_slot_must_be_among_the_intent_slots(tmp_path):
    err = error_for(tmp_path, GOOD.replace("    required_slots: [time]\n", "    required_slots: [time]\n    slots: [place]\n"))
    assert "requires slot 'time'" in err.problem and "add 'time' to the intent's slots" == err.fix
