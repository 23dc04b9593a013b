"""Skill examples files: loading, validation against skill.yaml, saving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config.skill import SkillConfig
from bot.errors import DataError
from bot.skills.examples import (
    find_value_span,
    load_examples,
    load_examples_with_lines,
    save_examples,
    text_key,
    validate_examples,
)
from bot.types import Example

GOOD = {"text": "play westbam on google music", "intent": "PlayMusic",
        "slots": {"artist": "westbam", "service": "google music"}}


@pytest.fixture
def config() -> SkillConfig:
    return SkillConfig(name="music", intents=[{"name": "PlayMusic"}, {"name": "GetWeather"}],
                       slots=[{"name": "artist"}, {"name": "service"}, {"name": "city"}])


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "examples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def raw(**changes: object) -> str:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...}, ensure_ascii=False)


# ---------------------------------------------------------------- find_value_span


@pytest.mark.parametrize(("text", "value", "span"), [
    ("play westbam on google music", "google music", (3, 5)),
    ("play westbam on google music", "westbam", (1, 2)),
    ("play  westbam   now", "westbam now", (1, 3)),
    ("a b a b", "a b", (0, 2)),
    ("play westbam", "west", None),
    ("play westbam", "Westbam", None),
    ("send it to robert, now", "robert", None),
    ("play westbam", "", None),
    ("play", "play westbam", None),
])
def test_find_value_span(text: str, value: str, span: tuple[int, int] | None) -> None:
    assert find_value_span(text, value) == span


def test_text_key_ignores_case_and_spacing() -> None:
    assert text_key("  Play  Jazz\tnow ") == text_key("play jazz now")


# ---------------------------------------------------------------- load_examples


def test_load_reads_examples_skipping_blank_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [raw(), "", "   ", raw(text="écoute ça", slots=...)])
    examples, lines = load_examples_with_lines(path)
    assert lines == [1, 4]
    assert examples[0] == Example(**GOOD)
    assert examples[1] == Example(text="écoute ça", intent="PlayMusic", slots={})
    assert load_examples(path) == examples


@pytest.mark.parametrize(("line", "field", "words"), [
    ('{"text": "hi", "intent": ', None, "not valid JSON"),
    ('["hi", "PlayMusic"]', None, "expected a JSON object"),
    (raw(text=...), "text", "missing"),
    (raw(intent=...), "intent", "missing"),
    (raw(txet="hi"), "txet", "unknown field"),
    (raw(text=3), "text", "expected a string, got number"),
    (raw(intent=None), "intent", "expected a string, got null"),
    (raw(slots=["westbam"]), "slots", "expected an object, got array"),
    (raw(slots={"artist": 1}), "slots.artist", "expected a string, got number"),
])
def test_load_errors_name_line_and_field(tmp_path: Path, line: str, field: str | None,
                                         words: str) -> None:
    path = write_lines(tmp_path, [raw(), "", line])
    with pytest.raises(DataError) as caught:
        load_examples(path)
    error = caught.value
    assert (error.path, error.line, error.field) == (str(path), 3, field)
    assert words in error.problem and error.fix
    assert f"{path}:3" in str(error)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_examples(tmp_path / "nope.jsonl")


def test_load_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "examples.jsonl"
    path.write_bytes(b'{"text": "caf\xe9", "intent": "PlayMusic"}\n')
    with pytest.raises(DataError, match="UTF-8"):
        load_examples(path)


# ---------------------------------------------------------------- validate_examples


def validate_one(config: SkillConfig, **changes: object) -> DataError:
    example = Example(**{**GOOD, **changes})
    with pytest.raises(DataError) as caught:
        validate_examples([Example(text="hello", intent="GetWeather"), example], config,
                          "skill/examples.jsonl", lines=[4, 9])
    assert caught.value.path == "skill/examples.jsonl" and caught.value.line == 9
    assert caught.value.fix
    return caught.value


def test_validate_accepts_good_examples(config: SkillConfig) -> None:
    validate_examples([Example(**GOOD), Example(text="hi", intent="GetWeather")], config, "x")


@pytest.mark.parametrize("text", ["", "   \t"])
def test_validate_empty_text(config: SkillConfig, text: str) -> None:
    error = validate_one(config, text=text, slots={})
    assert error.field == "text" and "empty" in error.problem


def test_validate_unknown_intent_lists_known_ones(config: SkillConfig) -> None:
    error = validate_one(config, intent="PlayMusik")
    assert error.field == "intent" and "PlayMusik" in error.problem
    assert "GetWeather, PlayMusic" in error.fix and "skill.yaml" in error.fix


def test_validate_unknown_slot(config: SkillConfig) -> None:
    error = validate_one(config, slots={"artist": "westbam", "singer": "westbam"})
    assert error.field == "slots.singer" and "artist, city, service" in error.fix


def test_validate_slot_outside_its_intent_slots(config: SkillConfig) -> None:
    narrowed = config.model_copy(update={"intents": [config.intents[0].model_copy(update={"slots": ["artist"]}),
                                                     config.intents[1]]})
    error = validate_one(narrowed)  # GOOD carries 'service', which PlayMusic no longer lists
    assert error.field == "slots.service" and "PlayMusic" in error.problem
    assert "add 'service' to the slots of intent 'PlayMusic'" in error.fix


@pytest.mark.parametrize("value", ["west", "Westbam", "westbam google", "music google"])
def test_validate_value_must_be_whole_words_of_text(config: SkillConfig, value: str) -> None:
    error = validate_one(config, slots={"artist": value})
    assert error.field == "slots.artist" and "whole words" in error.problem


@pytest.mark.parametrize("value", ["", "  "])
def test_validate_empty_value(config: SkillConfig, value: str) -> None:
    error = validate_one(config, slots={"artist": value})
    assert error.field == "slots.artist" and "empty" in error.problem


def test_validate_value_with_extra_spaces(config: SkillConfig) -> None:
    error = validate_one(config, slots={"service": "google  music"})
    assert error.field == "slots.service" and "spaces" in error.problem


def test_validate_duplicate_names_both_lines(config: SkillConfig) -> None:
    examples = [Example(**GOOD), Example(text="hi", intent="GetWeather"),
                Example(text="  Play westbam ON google   music", intent="GetWeather")]
    with pytest.raises(DataError) as caught:
        validate_examples(examples, config, "ex.jsonl", lines=[2, 5, 7])
    error = caught.value
    assert (error.line, error.field) == (7, "text")
    assert "line 2" in str(error) and "line 7" in str(error)


def test_validate_without_lines_counts_examples(config: SkillConfig) -> None:
    examples = [Example(**GOOD), Example(text="hi", intent="Nope")]
    with pytest.raises(DataError) as caught:
        validate_examples(examples, config, "ex.jsonl")
    assert caught.value.line is None and "example 2" in str(caught.value)


def test_validate_line_count_must_match(config: SkillConfig) -> None:
    with pytest.raises(ValueError, match=r"got 2 line numbers for 1 examples"):
        validate_examples([Example(**GOOD)], config, "ex.jsonl", lines=[1, 2])


def test_loaded_lines_flow_into_validation(tmp_path: Path, config: SkillConfig) -> None:
    path = write_lines(tmp_path, [raw(), "", raw(slots={"city": "paris"})])
    examples, lines = load_examples_with_lines(path)
    with pytest.raises(DataError) as caught:
        validate_examples(examples, config, path, lines)
    assert (caught.value.line, caught.value.field) == (3, "slots.city")


# ---------------------------------------------------------------- save_examples


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    examples = [Example(**GOOD), Example(text="écoute ça", intent="PlayMusic")]
    path = tmp_path / "out" / "examples.jsonl"
    save_examples(path, examples)
    assert "écoute ça" in path.read_text(encoding="utf-8")
    assert load_examples(path) == examples
    assert [p.name for p in path.parent.iterdir()] == ["examples.jsonl"]
