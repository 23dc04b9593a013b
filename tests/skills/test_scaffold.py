"""`scaffold_skill`: the files `bot new` writes, from real data files under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.config.skill import load_skill_config
from bot.errors import ConfigError, DataError
from bot.skills.examples import load_examples
from bot.skills.scaffold import human_words, scaffold_skill

DATA = [
    {"text": "add this song to my road trip playlist", "intent": "AddToPlaylist",
     "slots": {"playlist_name": "road trip"}},
    {"text": "wake me at 7 am", "intent": "alarm_set", "slots": {"time": "7 am"}},
    {"text": "wake me at 7 am", "intent": "alarm_set", "slots": {"time": "7 am"}},  # a duplicate
    {"text": "no alarms tomorrow", "intent": "alarm_remove", "slots": {"timeRange": "tomorrow"}},
    {"text": "will it rain", "intent": "weather_query"},
    {"text": "tell me a joke", "intent": "general_joke"},
]
CC_BY = "HWU64 by X. Liu et al., CC BY 4.0\nhttps://example.org/hwu64"


def write_data(folder: Path, rows: list[dict] = DATA) -> Path:
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def written(root: Path) -> tuple[str, dict]:
    text = (root / "skill.yaml").read_text(encoding="utf-8")
    return text, yaml.safe_load(text)


def intent_names(raw: dict) -> list[str]:
    return [intent["name"] for intent in raw["intents"]]


@pytest.mark.parametrize(("name", "words"), [
    ("AddToPlaylist", "add to playlist"), ("alarm_set", "alarm set"), ("timeRange", "time range"),
    ("GetUVIndex", "get uv index"), ("fromloc.city_name", "fromloc city name"), ("greet", "greet"),
    ("top5Songs", "top5 songs"), ("music-likeness", "music likeness"),
])
def test_human_words(name: str, words: str) -> None:
    assert human_words(name) == words


def test_descriptions_are_words(tmp_path: Path) -> None:
    _, raw = written(scaffold_skill(tmp_path / "mix", name="mix", data=write_data(tmp_path)))
    intents = {i["name"]: i["description"] for i in raw["intents"]}
    slots = {s["name"]: s["description"] for s in raw["slots"]}
    assert intents["AddToPlaylist"] == "add to playlist" and intents["alarm_set"] == "alarm set"
    assert slots == {"playlist_name": "playlist name", "time": "time", "timeRange": "time range"}


def test_yaml_keeps_only_what_differs_from_defaults(tmp_path: Path) -> None:
    root = scaffold_skill(tmp_path / "mix", name="mix", data=write_data(tmp_path))
    text, raw = written(root)
    assert list(raw) == ["name", "description", "mode", "intents", "slots"]
    assert raw["mode"] == "tuned" and raw["description"] == "The mix skill."
    assert all(list(item) == ["name", "description", "slots"] for item in raw["intents"])
    assert all(list(item) == ["name", "description"] for item in raw["slots"])
    for noise in ("questions", "action", "generate", "required_slots", "response", "tuning",
                  "few_shot_examples", "{}", "null", "''"):
        assert noise not in text, noise
    config = load_skill_config(root / "skill.yaml")  # what was left out comes back as defaults
    assert config.intent("alarm_set").questions == {} and config.intent("alarm_set").action is None


def test_each_intent_lists_the_slots_its_examples_carry(tmp_path: Path) -> None:
    config = load_skill_config(scaffold_skill(tmp_path / "mix", name="mix", data=write_data(tmp_path)) / "skill.yaml")
    assert config.intent("alarm_set").slots == ["time"]
    assert config.intent("alarm_remove").slots == ["timeRange"]
    assert config.intent("weather_query").slots == []  # no example carries one: the decoder names none


def test_starter_skill_has_no_slots_key(tmp_path: Path) -> None:
    root = scaffold_skill(tmp_path / "hello", name="hello", description="Says hello.")
    _, raw = written(root)
    assert raw == {"name": "hello", "description": "Says hello.", "mode": "tuned",
                   "intents": [{"name": "greet", "description": "greet"}]}
    assert [e.intent for e in load_examples(root / "examples.jsonl")] == ["greet", "greet"]


def test_duplicates_are_dropped(tmp_path: Path) -> None:
    root = scaffold_skill(tmp_path / "mix", name="mix", data=write_data(tmp_path))
    assert len(load_examples(root / "examples.jsonl")) == len(DATA) - 1


@pytest.mark.parametrize(("only", "intents"), [
    ("alarm_*", ["alarm_remove", "alarm_set"]),
    ("alarm_*,weather_*", ["alarm_remove", "alarm_set", "weather_query"]),
    (" alarm_set , general_joke ,", ["alarm_set", "general_joke"]),
    ("Add*", ["AddToPlaylist"]),
])
def test_only_keeps_matching_intents(tmp_path: Path, only: str, intents: list[str]) -> None:
    root = scaffold_skill(tmp_path / "part", name="part", data=write_data(tmp_path), only=only)
    _, raw = written(root)
    assert intent_names(raw) == intents
    kept = load_examples(root / "examples.jsonl")
    assert sorted({e.intent for e in kept}) == intents
    used = {slot for e in kept for slot in e.slots}
    assert sorted(s["name"] for s in raw.get("slots", [])) == sorted(used)  # slots of kept intents only


@pytest.mark.parametrize(("only", "problem"), [
    ("music_*", "'music_*' matches no intent"),
    ("alarm_*,wether_*", "'wether_*' matches no intent"),  # a typo is not silently ignored
    ("add*", "'add*' matches no intent"),  # case matters
    (" , ", "names no intent pattern"),
])
def test_only_matching_nothing_fails_with_a_fix(tmp_path: Path, only: str, problem: str) -> None:
    data = write_data(tmp_path)
    with pytest.raises(DataError, match="fix: ") as caught:
        scaffold_skill(tmp_path / "part", name="part", data=data, only=only)
    assert problem in str(caught.value) and str(data) in str(caught.value)
    if "matches no intent" in problem:
        assert "AddToPlaylist, alarm_remove, alarm_set" in str(caught.value)
    assert not (tmp_path / "part").exists()


def test_only_error_lists_a_bounded_number_of_intents(tmp_path: Path) -> None:
    rows = [{"text": f"say {n}", "intent": f"intent_{n:02d}"} for n in range(25)]
    with pytest.raises(DataError, match="and 5 more"):
        scaffold_skill(tmp_path / "s", name="s", data=write_data(tmp_path, rows), only="x*")


def test_attribution_heads_the_file_as_a_comment(tmp_path: Path) -> None:
    root = scaffold_skill(tmp_path / "hwu", name="hwu", data=write_data(tmp_path), attribution=CC_BY)
    text, raw = written(root)
    assert text.startswith("# HWU64 by X. Liu et al., CC BY 4.0\n# https://example.org/hwu64\n\nname: hwu\n")
    assert raw["name"] == "hwu" and "CC BY" not in json.dumps(raw)
    assert load_skill_config(root / "skill.yaml").name == "hwu"


def test_multi_paragraph_attribution_stays_one_comment(tmp_path: Path) -> None:
    root = scaffold_skill(tmp_path / "s", name="s", attribution="Line one\n\nLine two: [x] {y}\n")
    text, _ = written(root)
    assert text.startswith("# Line one\n#\n# Line two: [x] {y}\n\nname: s\n")
    load_skill_config(root / "skill.yaml")


@pytest.mark.parametrize("attribution", [None, "", "  \n"])
def test_no_attribution_no_comment(tmp_path: Path, attribution: str | None) -> None:
    text, _ = written(scaffold_skill(tmp_path / "s", name="s", attribution=attribution))
    assert text.startswith("name: s\n")


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    root = scaffold_skill(tmp_path / "s", name="s")
    before = (root / "skill.yaml").read_text()
    with pytest.raises(ConfigError, match="already exists"):
        scaffold_skill(root, name="s", data=write_data(tmp_path), attribution="x")
    assert (root / "skill.yaml").read_text() == before
