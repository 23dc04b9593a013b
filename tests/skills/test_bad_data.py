"""Malformed data, swept with hypothesis: every importer and every skill.yaml field, fed broken
input, either works or gives a BotError naming the file and the fix, never a traceback."""

from __future__ import annotations

import copy
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config.skill import load_skill_config
from bot.errors import BotError, ConfigError, DataError
from bot.skills.importers import read_dataset_with_stats
from bot.skills.scaffold import scaffold_skill

SWEEP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
WORDS = st.sampled_from(["play", "jazz", "set", "alarm", "7", "am", "#", "B-x", "I-x", "O", "B-1x", "a#b",
                         "a b", ";", ",", '"', "[time : 7]", "[", "]", ":", "\t", "é", "\x00"])
LINE = st.one_of(TEXT, st.lists(WORDS, max_size=6).map(" ".join))
CONTENT = st.one_of(st.lists(LINE, max_size=5).map(lambda lines: "\n".join(lines).encode("utf-8")),
                    st.binary(max_size=60))
HWU_HEADER = "answerid;scenario;intent;answer_annotation;answer_from_anno;answer_from_user"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole sweep, which pytest cleans up (a folder per example would pile up
    in the system's temp dir: hundreds of examples a test)."""
    return tmp_path_factory.mktemp("swept")


def outcome(data: Path, scratch: Path) -> None:
    """Import `data` as `bot new` does; only a BotError naming a file under `data` and a fix may escape."""
    out = scratch / uuid.uuid4().hex
    try:
        scaffold_skill(out, name="swept", data=data)
    except BotError as err:
        message = str(err)
        assert str(data) in message and "fix:" in message, message
        assert "Traceback" not in message


def folder_with(files: dict[str, bytes], scratch: Path) -> Path:
    root = Path(tempfile.mkdtemp(dir=scratch))
    for name, content in files.items():
        (root / name).write_bytes(content)
    return root


@SWEEP
@given(seq_in=CONTENT, seq_out=CONTENT, label=CONTENT)
def test_jointbert_folders_never_give_a_traceback(seq_in: bytes, seq_out: bytes, label: bytes, scratch: Path) -> None:
    outcome(folder_with({"seq.in": seq_in, "seq.out": seq_out, "label": label}, scratch), scratch)


@SWEEP
@given(rows=st.lists(st.tuples(LINE, LINE, LINE), max_size=4), tail=CONTENT)
def test_hwu_csv_never_gives_a_traceback(rows: list[tuple[str, str, str]], tail: bytes, scratch: Path) -> None:
    body = "\n".join(f"1;{a};{b};{c};x;X" for a, b, c in rows).encode("utf-8", "surrogatepass")
    outcome(folder_with({"data.csv": HWU_HEADER.encode() + b"\n" + body + b"\n" + tail}, scratch) / "data.csv", scratch)


@SWEEP
@given(rows=st.lists(st.tuples(LINE, LINE), max_size=4), tail=CONTENT)
def test_plain_csv_never_gives_a_traceback(rows: list[tuple[str, str]], tail: bytes, scratch: Path) -> None:
    body = "\n".join(f"{a},{b}" for a, b in rows).encode("utf-8", "surrogatepass")
    outcome(folder_with({"data.csv": b"text,intent\n" + body + b"\n" + tail}, scratch) / "data.csv", scratch)


JSON_VALUE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                          max_leaves=8)


@SWEEP
@given(train=JSON_VALUE, tail=st.binary(max_size=10))
def test_clinc_json_never_gives_a_traceback(train: object, tail: bytes, scratch: Path) -> None:
    import json

    outcome(folder_with({"data.json": json.dumps({"train": train}).encode() + tail}, scratch) / "data.json", scratch)


@SWEEP
@given(lines=st.lists(st.one_of(LINE, JSON_VALUE.map(lambda v: __import__("json").dumps(v))), max_size=4))
def test_skill_jsonl_never_gives_a_traceback(lines: list[str], scratch: Path) -> None:
    outcome(folder_with({"examples.jsonl": "\n".join(lines).encode("utf-8", "surrogatepass")}, scratch) / "examples.jsonl", scratch)


VALID = {"name": "alarms", "description": "Set alarms.",
         "intents": [{"name": "set_alarm", "description": "set one", "required_slots": ["time"],
                      "response": "Alarm set for {time}.", "questions": {"time": "For when?"}}],
         "slots": [{"name": "time", "description": "when"}], "tuning": {"steps": 10}}
YAML_VALUE = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT,
                       st.lists(TEXT, max_size=2), st.dictionaries(TEXT, TEXT, max_size=2))


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every place in a nested dict/list, as a tuple of keys and indices."""
    found = [prefix] if prefix else []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        found += paths(child, prefix + (key,))
    return found


PLACES = paths(VALID)


@SWEEP
@given(place=st.sampled_from(PLACES), value=YAML_VALUE, drop=st.booleans())
def test_every_skill_yaml_field_malformed_gives_a_clear_error(place: tuple, value: object, drop: bool, scratch: Path) -> None:
    raw = copy.deepcopy(VALID)
    parent = raw
    for key in place[:-1]:
        parent = parent[key]
    if drop and isinstance(parent, dict):
        del parent[place[-1]]
    else:
        parent[place[-1]] = value
    path = Path(tempfile.mkdtemp(dir=scratch)) / "skill.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    try:
        load_skill_config(path)
    except ConfigError as err:
        assert str(path) in str(err) and "fix:" in str(err), str(err)


@SWEEP
@given(content=st.binary(max_size=80))
def test_skill_yaml_of_any_bytes_gives_a_clear_error(content: bytes, scratch: Path) -> None:
    path = Path(tempfile.mkdtemp(dir=scratch)) / "skill.yaml"
    path.write_bytes(content)
    try:
        load_skill_config(path)
    except ConfigError as err:
        assert str(path) in str(err) and "fix:" in str(err), str(err)


def test_non_utf8_skill_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "skill.yaml"
    path.write_bytes(b"name: alarms\ndescription: caf\xe9\n")

    with pytest.raises(ConfigError, match=r"skill.yaml:2: not UTF-8 text") as caught:
        load_skill_config(path)
    assert "save skill.yaml as UTF-8" in str(caught.value)


def test_jointbert_multi_intent_labels_become_one_combined_intent(tmp_path: Path) -> None:
    folder = folder_with({"seq.in": b"fares and flights to dallas\nflights to boston\n",
                          "seq.out": b"O O O O B-toloc\nO O B-toloc\n",
                          "label": b"atis_airfare#atis_flight\natis_flight\n"}, tmp_path)

    examples, stats = read_dataset_with_stats(folder)
    root = scaffold_skill(tmp_path / "flights", name="flights", data=folder)

    assert [e.intent for e in examples] == ["atis_airfare_and_atis_flight", "atis_flight"]
    assert stats.combined_intents == 1 and "kept as one intent" in stats.notes[0]
    skill = load_skill_config(root / "skill.yaml")
    combined = skill.intent("atis_airfare_and_atis_flight")
    assert combined.description == "atis airfare and atis flight"


@pytest.mark.parametrize(("label", "line"), [("book flight", 1), ("9lives", 1), ("a##b", 1), ("ok#", 1)])
def test_an_illegal_intent_label_names_the_file_line_and_fix(label: str, line: int, tmp_path: Path) -> None:
    folder = folder_with({"seq.in": b"hello\n", "seq.out": b"O\n", "label": label.encode() + b"\n"}, tmp_path)

    with pytest.raises(DataError, match=rf"label:{line}: field 'intent': intent name") as caught:
        read_dataset_with_stats(folder)
    assert "rename it in the data" in str(caught.value)


@pytest.mark.parametrize(("name", "suggestion"), [("My Skill", "my_skill"), ("7 wonders", "skill_7_wonders")])
def test_a_skill_name_with_spaces_is_refused_with_a_name_to_use(tmp_path: Path, name: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=f"bot new {suggestion} --description") as caught:
        scaffold_skill(tmp_path / name, name=name)
    assert f"{name!r} is not a skill name" in str(caught.value)
    assert not (tmp_path / name).exists()
