"""The scripted-dialogue format, the player that runs it through a manager, and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dialogue_fixtures import RULES, skill_set

from bot.dialogue import DialogueManager, ScriptedUnderstanding
from bot.dialogue.script_report import write_dialogue_report
from bot.dialogue.script_run import play_set, score
from bot.dialogue.scripts import load_dialogues
from bot.errors import ConfigError
from bot.store import MemoryStore

REPO = Path(__file__).resolve().parents[2]
SKILLS = skill_set("tests.dialogue.test_manager")

SCRIPT = """
dialogues:
- name: two steps
  category: slot_filling
  turns:
  - user: set an alarm
    skill: alarms
    intent: set_alarm
    reply: "For what time"
  - user: 7 AM
    slots: {time: 7 am}
    reply: "7 AM"
- name: out of scope
  category: fallback
  turns:
  - user: sing me a song
    skill: null
- name: wrong on purpose
  category: fallback
  turns:
  - user: set an alarm for 8 am
    skill: restaurant
    slots: {time: 9 am}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialogues.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def results(tmp_path):
    manager = DialogueManager(SKILLS, ScriptedUnderstanding(RULES), MemoryStore())
    return play_set(manager, load_dialogues(_write(tmp_path, SCRIPT)))


def test_each_turn_checks_only_what_it_states(results) -> None:
    two_steps, fallback, wrong = results
    assert two_steps.passed and fallback.passed  # slots compare case-insensitively
    assert wrong.turns[0].failed == ("skill", "slots")  # intent and reply were not asked for


def test_scores_per_category_and_overall(results) -> None:
    scores = score(results)
    assert list(scores) == ["slot_filling", "fallback", "all"]
    assert (scores["fallback"].dialogues, scores["fallback"].dialogues_passed) == (2, 1)
    assert scores["all"].dialogue_accuracy == pytest.approx(2 / 3)
    assert scores["all"].turn_accuracy == pytest.approx(3 / 4)
    assert scores["all"].checks == {"skill": [2, 3], "intent": [1, 1], "slots": [1, 2], "reply": [2, 2]}


def test_each_dialogue_is_its_own_conversation_and_user(tmp_path) -> None:
    store = MemoryStore()
    manager = DialogueManager(SKILLS, ScriptedUnderstanding(RULES), store)
    play_set(manager, load_dialogues(_write(tmp_path, SCRIPT)), run_id="run")
    assert [store.load(f"run-{n}").turns for n in range(3)] == [2, 1, 1]


def test_the_report_lists_scores_and_failing_turns(results, tmp_path) -> None:
    md, data = write_dialogue_report(tmp_path / "out", score(results), results, title="t")
    text = md.read_text(encoding="utf-8")
    assert "| all | 3 | 66.7 | 4 | 75.0 | 66.7 | 100.0 | 50.0 | 100.0 |" in text
    assert "### wrong on purpose (fallback)" in text and "FAIL skill, slots" in text
    loaded = json.loads(data.read_text(encoding="utf-8"))
    assert loaded["categories"]["all"]["conversation_accuracy"] == pytest.approx(2 / 3)
    assert loaded["dialogues"][2]["turns"][0]["failed"] == ["skill", "slots"]


@pytest.mark.parametrize(("text", "problem"), [
    ("dialogues:\n- name: a\n  category: c\n  turns:\n  - user: hi\n    skil: x\n", "skil"),
    ("dialogues:\n- name: a\n  category: c\n  turns:\n  - user: hi\n    reply: '('\n", "not a regular"),
    ("dialogues:\n- name: a\n  category: c\n  turns: []\n", "at least 1"),
    ("dialogues:\n- {name: a, category: c, turns: [{user: x}]}\n- {name: a, category: c, turns: [{user: y}]}\n",
     "appears twice"),
])
def test_a_bad_file_names_the_line_field_and_fix(tmp_path, text, problem) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        load_dialogues(_write(tmp_path, text))
    assert "dialogues.yaml:" in str(caught.value) and "fix: see the format" in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_dialogues(tmp_path / "nope.yaml")


def test_the_shipped_set_loads_and_covers_every_category() -> None:
    shipped = load_dialogues(REPO / "configs" / "dialogues" / "shipped.yaml")
    categories = {d.category for d in shipped.dialogues}
    assert categories == {"happy_path", "slot_filling", "correction", "digression_skill",
                          "digression_out_of_scope", "small_talk", "cancel", "follow_up", "acting",
                          "unreadable"}


def test_bot_eval_dialogues_prints_the_accuracy_and_writes_the_report(tmp_path, monkeypatch) -> None:
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from bot import cli

    manager = DialogueManager(SKILLS, ScriptedUnderstanding(RULES), MemoryStore())
    monkeypatch.setattr(cli, "_bot", lambda settings, **parts: SimpleNamespace(manager=manager))
    path = _write(tmp_path, SCRIPT)
    done = CliRunner().invoke(cli.app, ["eval", "--dialogues", str(path), "--report", str(tmp_path / "r")])
    assert done.exit_code == 0, done.output
    assert "whole-conversation accuracy: 66.7% (2/3)" in done.output
    assert (tmp_path / "r" / "dialogues.md").is_file() and (tmp_path / "r" / "dialogues.json").is_file()
    both = CliRunner().invoke(cli.app, ["eval", "skills/alarm", "--dialogues", str(path)])
    assert both.exit_code != 0 and "not both" in both.output
