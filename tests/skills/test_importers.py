"""Importing data sets: each format from a tiny file, errors, and the real data sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import DataError
from bot.skills.examples import find_value_span, save_examples
from bot.skills.importers import (
    FORMATS,
    bio_to_slots,
    dedupe_examples,
    parse_annotation,
    read_dataset,
    read_dataset_with_stats,
    schema_from_examples,
)
from bot.types import Example

DATASETS = Path("/work/shared/datasets")
HWU_HEADER = "answerid;scenario;intent;answer_annotation;answer_from_anno;answer_from_user"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jointbert(folder: Path, seq_in: list[str], seq_out: list[str], labels: list[str]) -> Path:
    for name, lines in (("seq.in", seq_in), ("seq.out", seq_out), ("label", labels)):
        write(folder / name, "".join(line + "\n" for line in lines))
    return folder


def hwu_row(annotation: str, scenario: str = "alarm", intent: str = "set") -> str:
    return f'1;{scenario};{intent};"{annotation}";"x";"X"'


# ---------------------------------------------------------------- skill JSONL


def test_reads_skill_jsonl(tmp_path: Path) -> None:
    examples = [Example(text="play jazz", intent="Play", slots={"genre": "jazz"})]
    save_examples(tmp_path / "examples.jsonl", examples)
    got, stats = read_dataset_with_stats(tmp_path / "examples.jsonl")
    assert got == examples and (stats.read, stats.skipped) == (1, 0)


# ---------------------------------------------------------------- JointBERT


def test_reads_jointbert_folder(tmp_path: Path) -> None:
    folder = jointbert(tmp_path / "snips",
                       ["play westbam  on google music ", "what is the weather"],
                       ["O B-artist O B-service I-service ", "O O O O"],
                       ["PlayMusic", "GetWeather"])
    got, stats = read_dataset_with_stats(folder)
    assert got == [
        Example(text="play westbam on google music", intent="PlayMusic",
                slots={"artist": "westbam", "service": "google music"}),
        Example(text="what is the weather", intent="GetWeather"),
    ]
    assert (stats.read, stats.skipped, stats.dropped_duplicate_slots) == (2, 0, 0)


def test_jointbert_keeps_first_of_repeated_slot_and_counts_it(tmp_path: Path) -> None:
    folder = jointbert(tmp_path, ["book a cafe for a cafe lover"],
                       ["O O B-place O O B-place O"], ["Book"])
    got, stats = read_dataset_with_stats(folder)
    assert got[0].slots == {"place": "cafe"} and stats.dropped_duplicate_slots == 1


def test_jointbert_splits_pick_subfolder(tmp_path: Path) -> None:
    jointbert(tmp_path / "train", ["a b"], ["O O"], ["Train"])
    jointbert(tmp_path / "dev", ["c d"], ["O O"], ["Dev"])
    assert read_dataset(tmp_path)[0].intent == "Train"
    assert read_dataset(tmp_path, split="dev")[0].intent == "Dev"
    with pytest.raises(DataError) as caught:
        read_dataset(tmp_path, split="test")
    assert "dev, train" in caught.value.fix


def test_jointbert_leaf_folder_takes_no_split(tmp_path: Path) -> None:
    folder = jointbert(tmp_path, ["a"], ["O"], ["A"])
    with pytest.raises(DataError, match="no splits"):
        read_dataset(folder, split="dev")


def test_jointbert_line_count_mismatch_names_file_and_line(tmp_path: Path) -> None:
    folder = jointbert(tmp_path, ["a b", "c d"], ["O O", "O O"], ["A"])
    with pytest.raises(DataError) as caught:
        read_dataset(folder)
    assert caught.value.path == str(folder / "label") and caught.value.line == 2


def test_jointbert_tag_count_mismatch_names_file_and_line(tmp_path: Path) -> None:
    folder = jointbert(tmp_path, ["a b", "c d e"], ["O O", "O O"], ["A", "B"])
    with pytest.raises(DataError) as caught:
        read_dataset(folder)
    assert caught.value.path == str(folder / "seq.out") and caught.value.line == 2
    assert "2 tags for 3 words" in caught.value.problem


def test_jointbert_bad_tag_names_file_and_line(tmp_path: Path) -> None:
    folder = jointbert(tmp_path, ["a b"], ["O X-city"], ["A"])
    with pytest.raises(DataError) as caught:
        read_dataset(folder)
    assert (caught.value.path, caught.value.line) == (str(folder / "seq.out"), 1)
    assert "X-city" in caught.value.problem


def test_jointbert_blank_utterance_is_skipped_and_counted(tmp_path: Path) -> None:
    folder = jointbert(tmp_path, ["a", " ", "b"], ["O", "", "O"], ["A", "", "B"])
    got, stats = read_dataset_with_stats(folder)
    assert [e.text for e in got] == ["a", "b"] and (stats.read, stats.skipped) == (3, 1)


def test_bio_to_slots() -> None:
    words = "fly from new york to la today".split()
    tags = ["O", "O", "B-from", "I-from", "O", "I-to", "B-date"]
    assert bio_to_slots(words, tags) == [("from", "new york"), ("to", "la"), ("date", "today")]
    assert bio_to_slots(["a", "b"], ["B-x", "B-x"]) == [("x", "a"), ("x", "b")]
    assert bio_to_slots(["a", "b"], ["B-x", "I-y"]) == [("x", "a"), ("y", "b")]


# ---------------------------------------------------------------- HWU64


@pytest.mark.parametrize(("annotation", "text", "pairs"), [
    ("wake me [time : at six]", "wake me at six", [("time", "at six")]),
    ("send email to [person : robert], what time", "send email to robert , what time",
     [("person", "robert")]),
    ("[date:today]'s alarms", "today 's alarms", [("date", "today")]),
    ("set [time :  ten   am ] now", "set ten am now", [("time", "ten am")]),
    ("alarm at [time : ] please", "alarm at please", []),
    ("at [time : 10:30] ok", "at 10:30 ok", [("time", "10:30")]),
    ("Olly  what's up ", "Olly what's up", []),
])
def test_parse_annotation(annotation: str, text: str, pairs: list) -> None:
    assert parse_annotation(annotation) == (text, pairs)
    for _, value in pairs:
        assert find_value_span(text, value) is not None


@pytest.mark.parametrize(("annotation", "problem"), [
    ("wake me [time : six", "brackets do not pair up"), ("wake me time : six]", "brackets do not pair up"),
    ("a [b [c : d] e]", "brackets do not pair up"),
    ("wake me [six am]", r"'\[six am\]' is not '\[slot_name : value\]'"),
    ("wake [ : six] me", r"'\[ : six\]' is not '\[slot_name : value\]'"),
])
def test_parse_annotation_rejects_what_is_ambiguous(annotation: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_annotation(annotation)


def test_reads_hwu_folder_skipping_noisy_rows(tmp_path: Path) -> None:
    write(tmp_path / "alarm_set.csv", "\n".join([
        HWU_HEADER, hwu_row("wake me [time : at six] [date : today] [time : at seven]"),
        hwu_row("wake me [time : six"), hwu_row("send email to [person : robert], hi",
                                                 "email", "sendemail")]) + "\n")
    write(tmp_path / "notes.csv", "something;else\n1;2\n")
    got, stats = read_dataset_with_stats(tmp_path)
    assert got == [
        Example(text="wake me at six today at seven", intent="alarm_set",
                slots={"time": "at six", "date": "today"}),
        Example(text="send email to robert , hi", intent="email_sendemail",
                slots={"person": "robert"}),
    ]
    assert (stats.read, stats.skipped, stats.dropped_duplicate_slots) == (3, 1, 1)
    assert any("alarm_set.csv:3" in note for note in stats.notes)
    assert any("notes.csv" in note for note in stats.notes)


def test_reads_single_hwu_file(tmp_path: Path) -> None:
    path = write(tmp_path / "any.csv", HWU_HEADER + "\n" + hwu_row("hi [date : now]") + "\n")
    assert read_dataset(path) == [Example(text="hi now", intent="alarm_set",
                                          slots={"date": "now"})]


# ---------------------------------------------------------------- CLINC150


@pytest.fixture
def clinc(tmp_path: Path) -> Path:
    data = {"train": [["play  jazz ", "play"], ["what time", "time"]],
            "val": [["play rock", "play"]], "oos_val": [["sing", "oos"], ["bad"]]}
    return write(tmp_path / "data.json", json.dumps(data))


def test_reads_clinc_splits(clinc: Path) -> None:
    assert read_dataset(clinc) == [Example(text="play jazz", intent="play"),
                                   Example(text="what time", intent="time")]
    got, stats = read_dataset_with_stats(clinc, split="val+oos_val")
    assert [e.text for e in got] == ["play rock", "sing"]
    assert (stats.read, stats.skipped) == (3, 1)


def test_clinc_unknown_split_lists_keys(clinc: Path) -> None:
    with pytest.raises(DataError) as caught:
        read_dataset(clinc, split="test")
    assert caught.value.field == "test" and "oos_val, train, val" in caught.value.fix


# ---------------------------------------------------------------- plain CSV


def test_reads_plain_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", 'id,Text,intent\n1,"hi, there",greet\n\n2,bye,leave\n')
    got, stats = read_dataset_with_stats(path)
    assert got == [Example(text="hi, there", intent="greet"), Example(text="bye", intent="leave")]
    assert stats.read == 2


@pytest.mark.parametrize(("row", "field"), [("3,hi, there,greet", None), ("3,,greet", "text"),
                                            ("3,hi,", "intent")])
def test_plain_csv_errors_name_line_and_field(tmp_path: Path, row: str, field: str | None) -> None:
    path = write(tmp_path / "d.csv", f"id,text,intent\n1,a,b\n{row}\n")
    with pytest.raises(DataError) as caught:
        read_dataset(path)
    assert (caught.value.line, caught.value.field) == (3, field)


# ---------------------------------------------------------------- detection, helpers


@pytest.mark.parametrize("name", ["notes.txt", "folder"])
def test_unknown_format_lists_accepted_ones(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.mkdir() if name == "folder" else write(path, "hello\n")
    with pytest.raises(DataError) as caught:
        read_dataset(path)
    for description in ("jsonl", "seq.in", "HWU64", "CLINC150", "text,intent"):
        assert description in caught.value.fix
    assert len(FORMATS) == 5


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_dataset(tmp_path / "nope")


def test_dedupe_and_schema() -> None:
    examples = [Example(text="Play jazz", intent="b", slots={"g": "jazz"}),
                Example(text="play  JAZZ", intent="c"), Example(text="stop", intent="a")]
    assert dedupe_examples(examples) == [examples[0], examples[2]]
    assert schema_from_examples(examples) == (["a", "b", "c"], ["g"])


# ---------------------------------------------------------------- the real data sets


def real(relative: str) -> Path:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return path


def span_failures(examples: list[Example]) -> list[tuple[str, str]]:
    return [(e.text, value) for e in examples for value in e.slots.values()
            if find_value_span(e.text, value) is None]


def test_real_snips_train() -> None:
    got, stats = read_dataset_with_stats(real("snips"))
    assert len(got) == stats.read == 13_084 and stats.skipped == 0
    assert got[0] == Example(text="listen to westbam alumb allergic on google music",
                             intent="PlayMusic", slots={"artist": "westbam", "album": "allergic",
                                                        "service": "google music"})
    intents, slots = schema_from_examples(got)
    assert len(intents) == 7 and len(slots) == 39
    assert span_failures(got) == []
    assert read_dataset(real("snips/train")) == got


def test_real_snips_dev() -> None:
    got, stats = read_dataset_with_stats(real("snips"), split="dev")
    assert len(got) == stats.read == 700 and stats.skipped == 0
    assert span_failures(got) == []


def test_real_hwu64() -> None:
    got, stats = read_dataset_with_stats(real("hwu64/train"))
    assert stats.read == 9_960 and len(got) == stats.read - stats.skipped
    intents, _ = schema_from_examples(got)
    assert len(intents) == 64 and "alarm_query" in intents
    assert Example(text="send email to robert , what time is dinner", intent="email_sendemail",
                   slots={"person": "robert"}) in got
    assert span_failures(got) == []
    assert read_dataset(real("hwu64")) == got


def test_real_clinc150() -> None:
    path = real("clinc150/data_train_val.json")
    train = read_dataset(path)
    assert len(train) == 15_000 and len(schema_from_examples(train)[0]) == 150
    assert train[0] == Example(text="what expression would i use to say i love you if i were "
                                    "an italian", intent="translate")
    assert len(read_dataset(path, split="val")) == 3_000
    oos = read_dataset(path, split="oos_val")
    assert len(oos) == 100 and {e.intent for e in oos} == {"oos"}
    assert len(read_dataset(path, split="val+oos_val")) == 3_100
