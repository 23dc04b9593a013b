"""Read public NLU data sets (and a skill's own files) into `Example`s, whatever their format.

Each format is one entry of `FORMATS`: a detector that looks at a path and a reader that
turns it into examples. `read_dataset` asks the detectors in order and uses the first match,
so a new format is one new entry, not a new branch. Import keeps the data as published
(duplicates included); `dedupe_examples` and `validate_examples` are separate steps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from bot.errors import DataError
from bot.skills.examples import load_examples, text_key
from bot.skills.import_common import (DEFAULT_SPLIT, ImportStats, first_line, has_leaf_child, intent_of, keep_first,
                                      no_split, read_lines, split_folder, words)
from bot.skills.import_csv import is_hwu, is_plain_csv, parse_annotation, read_hwu, read_plain_csv
from bot.skills.labels import checked_name, utf8_text
from bot.types import Example

__all__ = [
    "FORMATS",
    "DatasetFormat",
    "ImportStats",
    "bio_to_slots",
    "dedupe_examples",
    "parse_annotation",
    "read_dataset",
    "read_dataset_with_stats",
    "schema_from_examples",
]

JOINTBERT_FILES = ("seq.in", "seq.out", "label")


Reader = Callable[[Path, str | None, ImportStats], list[Example]]


class DatasetFormat(NamedTuple):
    """One importable format: how to recognise it, how to read it, and how to describe it."""

    detect: Callable[[Path], bool]
    read: Reader
    description: str


# ---------------------------------------------------------------- public entry points


def read_dataset(path: Path, *, split: str | None = None) -> list[Example]:
    """Read a data set in any format of `FORMATS` (see `read_dataset_with_stats`)."""
    return read_dataset_with_stats(path, split=split)[0]


def read_dataset_with_stats(path: Path, *, split: str | None = None
                            ) -> tuple[list[Example], ImportStats]:
    """Detect the format of `path`, read it, and say what was read and skipped.

    `split` picks a part of data sets that hold several (JointBERT parent folders, CLINC150
    keys such as 'val' or 'val+oos_val'); the default is 'train'.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "data set not found", fix="check the path")
    stats = ImportStats()
    examples = _format_of(path).read(path, split, stats)
    duplicates = len(examples) - len(dedupe_examples(examples))
    if duplicates:
        stats.note(f"{duplicates} examples repeat an earlier text (kept; see dedupe_examples)")
    return examples, stats


def _format_of(path: Path) -> DatasetFormat:
    for dataset_format in FORMATS.values():
        if dataset_format.detect(path):
            return dataset_format
    accepted = "; ".join(f"{name}: {fmt.description}" for name, fmt in FORMATS.items())
    raise DataError(path, "not a data set format I can read", fix=f"give one of: {accepted}")


def dedupe_examples(examples: Iterable[Example]) -> list[Example]:
    """Keep the first example of each text (compared ignoring case and spacing)."""
    seen: set[str] = set()
    kept: list[Example] = []
    for example in examples:
        key = text_key(example.text)
        if key not in seen:
            seen.add(key)
            kept.append(example)
    return kept


def schema_from_examples(examples: Iterable[Example]) -> tuple[list[str], list[str]]:
    """The sorted intent names and slot names the examples use (to draft a skill.yaml)."""
    intents: set[str] = set()
    slots: set[str] = set()
    for example in examples:
        intents.add(example.intent)
        slots.update(example.slots)
    return sorted(intents), sorted(slots)


# ---------------------------------------------------------------- skill JSONL


def _is_jsonl(path: Path) -> bool:
    return path.is_file() and path.suffix == ".jsonl"


def _read_jsonl(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    no_split(path, split)
    examples = load_examples(path)
    stats.read += len(examples)
    return examples


# ---------------------------------------------------------------- JointBERT (SNIPS, ATIS)


def _is_jointbert_leaf(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in JOINTBERT_FILES)


def _is_jointbert(path: Path) -> bool:
    return _is_jointbert_leaf(path) or has_leaf_child(path, _is_jointbert_leaf)


def _read_jointbert(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    folder = split_folder(path, split, _is_jointbert_leaf)
    columns = [read_lines(folder / name) for name in JOINTBERT_FILES]
    _check_same_length(folder, columns)
    examples: list[Example] = []
    for number, (words, tags, label) in enumerate(zip(*columns), start=1):
        stats.read += 1
        example = _jointbert_example(folder, number, words, tags, label, stats)
        if example is not None:
            examples.append(example)
    return examples


def _check_same_length(folder: Path, columns: list[list[str]]) -> None:
    counts = dict(zip(JOINTBERT_FILES, map(len, columns)))
    shortest = min(counts, key=counts.__getitem__)
    if len(set(counts.values())) > 1:
        told = ", ".join(f"{name} {count}" for name, count in counts.items())
        raise DataError(folder / shortest, f"line counts differ ({told})",
                        line=counts[shortest] + 1,
                        fix=f"give {', '.join(JOINTBERT_FILES)} one line per utterance each")


def _jointbert_example(folder: Path, number: int, line_in: str, line_out: str, label: str,
                       stats: ImportStats) -> Example | None:
    words, intent = line_in.split(), label.strip()
    if not words:
        stats.skip(f"{folder / 'seq.in'}:{number}: empty utterance")
        return None
    pairs = _tagged_slots(folder / "seq.out", number, words, line_out.split())
    if not intent:
        raise DataError(folder / "label", "no intent label", line=number,
                        fix="write the utterance's intent on this line")
    return Example(text=" ".join(words), intent=intent_of(intent, folder / "label", number, stats),
                   slots=keep_first(pairs, stats))


def _tagged_slots(path: Path, number: int, words: list[str], tags: list[str]
                  ) -> list[tuple[str, str]]:
    if len(words) != len(tags):
        raise DataError(path, f"{len(tags)} tags for {len(words)} words of seq.in",
                        line=number, fix="give exactly one BIO tag per word")
    try:
        pairs = bio_to_slots(words, tags)
    except ValueError as err:
        raise DataError(path, str(err), line=number,
                        fix="use tags O, B-slot_name and I-slot_name") from None
    for name, _ in pairs:
        checked_name(name, path, number, field="slot tag", kind="slot")
    return pairs


_TAG = re.compile(r"^(?:O|([BI])-(\S+))$")


def bio_to_slots(words: Sequence[str], tags: Sequence[str]) -> list[tuple[str, str]]:
    """(slot name, value) for each BIO span, in order; a value is its words joined by one space.

    An I- tag that does not continue a span of the same name starts a new one (as conlleval
    reads it). Raises ValueError for a tag that is not O, B-name or I-name.
    """
    spans: list[tuple[str, list[str]]] = []
    current: str | None = None
    for position, (word, tag) in enumerate(zip(words, tags), start=1):
        match = _TAG.match(tag)
        if match is None:
            raise ValueError(f"tag {position} '{tag}' is not O, B-name or I-name")
        kind, name = match.groups()
        if kind == "I" and name == current:
            spans[-1][1].append(word)
        elif kind is not None:
            spans.append((name, [word]))
        current = name
    return [(name, " ".join(span)) for name, span in spans]


# ---------------------------------------------------------------- CLINC150 JSON


def _is_clinc(path: Path) -> bool:
    return path.is_file() and path.suffix == ".json" and first_line(path).startswith("{")


def _read_clinc(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    data = _load_json_object(path)
    examples: list[Example] = []
    for key in (split or DEFAULT_SPLIT).split("+"):
        records = data.get(key.strip())
        if not isinstance(records, list):
            lists = sorted(name for name, value in data.items() if isinstance(value, list))
            raise DataError(path, f"no list of examples under key '{key}'", field=key,
                            fix=f"use split= one of {', '.join(lists)}, or join them with '+'")
        examples.extend(_clinc_records(path, key, records, stats))
    return examples


def _load_json_object(path: Path) -> dict:
    try:
        data = json.loads(utf8_text(path))
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON ({err.msg})", line=err.lineno,
                        fix="check the file is complete CLINC150-style JSON") from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply", fix="use CLINC150-style JSON: lists of [text, intent]") from None
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object of splits",
                        fix='use {"train": [[text, intent], ...], "val": [...]}')
    return data


def _clinc_records(path: Path, key: str, records: list, stats: ImportStats) -> list[Example]:
    examples: list[Example] = []
    for index, record in enumerate(records):
        stats.read += 1
        if not _is_text_intent(record):
            stats.skip(f"{path}: {key}[{index}]: not [text, intent]: {record!r}")
            continue
        examples.append(Example(text=words(record[0]),
                                intent=intent_of(record[1], path, None, stats, field=f"{key}[{index}]")))
    return examples


def _is_text_intent(record: object) -> bool:
    if not (isinstance(record, list) and len(record) == 2):
        return False
    return all(isinstance(item, str) and item.strip() for item in record)


# ---------------------------------------------------------------- the registry


FORMATS: dict[str, DatasetFormat] = {
    "skill-jsonl": DatasetFormat(_is_jsonl, _read_jsonl,
                                 "a skill examples file (*.jsonl)"),
    "jointbert": DatasetFormat(_is_jointbert, _read_jointbert,
                               "a JointBERT folder with seq.in, seq.out, label "
                               "(or with train/dev/... subfolders holding them)"),
    "hwu64": DatasetFormat(is_hwu, read_hwu,
                           "an HWU64 ';'-separated CSV file, or a folder of them, with columns "
                           "scenario;intent;answer_annotation"),
    "clinc150": DatasetFormat(_is_clinc, _read_clinc,
                              'a CLINC150 JSON file {"train": [[text, intent], ...], ...}'),
    "csv": DatasetFormat(is_plain_csv, read_plain_csv,
                         "a comma-separated CSV file with a header holding text,intent"),
}
