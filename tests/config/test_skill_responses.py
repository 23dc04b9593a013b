"""The response fields of an intent in `skill.yaml`: questions, action, generate, and templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import IntentConfig, load_skill_config
from bot.config.skill import ACTION_FIX
from bot.config.templates import fill_template, template_fields
from bot.errors import ConfigError

GOOD = """\
name: alarms
intents:
  - name: set_alarm
    required_slots: [time]
    response: "Alarm set for {time} {day}."
    questions:
      time: "For what time?"
  - name: list_alarms
    action: skills.alarms.actions:list_alarms
  - name: chat
    generate: true
slots:
  - name: time
  - name: day
"""


def error_for(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "skill.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_skill_config(path)
    return caught.value


def line_of(text: str, pattern: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if re.search(pattern, line))


def test_response_fields_load(tmp_path) -> None:
    path = tmp_path / "skill.yaml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_skill_config(path)
    assert config.intent("set_alarm").questions == {"time": "For what time?"}
    assert config.intent("list_alarms").action == "skills.alarms.actions:list_alarms"
    assert config.intent("chat").generate is True


def test_response_fields_default_to_a_template() -> None:
    intent = IntentConfig(name="hi")
    assert intent.questions == {} and intent.action is None and intent.generate is False


def test_a_question_for_an_undeclared_slot_names_field_line_and_fix(tmp_path) -> None:
    text = GOOD.replace("      time: \"For", "      tiem: \"For")
    err = error_for(tmp_path, text)
    assert err.field == "intents.0.questions.tiem" and err.line == line_of(text, "tiem:")
    assert "'tiem'" in err.problem and "time, day" in err.fix


@pytest.mark.parametrize(("template", "problem", "fix"), [
    ("Alarm at {when}.", "uses {when}", "time, day"),
    ("Alarm at {time.", "malformed", "{slot_name}"),
    ("Alarm at {}.", "only plain {slot_name}", "{slot_name}"),
    ("Alarm at {0}.", "only plain {slot_name}", "{slot_name}"),
    ("Alarm at {time:>9}.", "only plain {slot_name}", "{slot_name}"),
    ("Alarm at {time!r}.", "only plain {slot_name}", "{slot_name}"),
])
def test_a_bad_response_template_is_refused(tmp_path, template, problem, fix) -> None:
    text = GOOD.replace('"Alarm set for {time} {day}."', f'"{template}"')
    err = error_for(tmp_path, text)
    assert err.field == "intents.0.response" and err.line == line_of(text, "response:")
    assert problem in err.problem and fix in err.fix


def test_a_question_template_is_checked_too(tmp_path) -> None:
    err = error_for(tmp_path, GOOD.replace('"For what time?"', '"For what time on {date}?"'))
    assert err.field == "intents.0.questions.time" and "{date}" in err.problem


@pytest.mark.parametrize("action", ["skills.alarms.actions.list_alarms", "a:b:c", "1mod:fn", "mod:"])
def test_an_action_must_read_module_colon_function(tmp_path, action) -> None:
    text = GOOD.replace("skills.alarms.actions:list_alarms", f'"{action}"')
    err = error_for(tmp_path, text)
    assert err.field == "intents.1.action" and err.line == line_of(text, "action:") and err.fix == ACTION_FIX


def test_an_intent_answers_in_one_way_only(tmp_path) -> None:
    text = GOOD.replace("    generate: true", "    generate: true\n    response: hi")
    err = error_for(tmp_path, text)
    assert err.field == "intents.2.generate" and "one way" in err.problem
    assert err.fix == "keep one of response, generate"


def test_template_fields_lists_placeholders() -> None:
    assert template_fields("At {time} on {day}, {{literal}}") == ["time", "day"]


def test_fill_template_leaves_no_gap_for_an_unfilled_slot() -> None:
    assert fill_template("Alarm set for {time} {day}.", {"time": "7 am"}) == "Alarm set for 7 am."
    assert fill_template("{greeting}, {name}!", {"name": "Ann"}) == ", Ann!"
    assert fill_template("Line one.\n  Indented {x}.", {"x": "y"}) == "Line one.\n  Indented y."
