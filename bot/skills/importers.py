"""Read public NLU data sets (and a skill's own files) into `Example`s, whatever their format.

Each format is one entry of `FORMATS`: a detector that looks at a path and a reader that
turns it into examples. `read_dataset` asks the detectors in order and uses the first match,
so a new format is one new entry, not a new branch. Import keeps the data as published
(duplicates included); `dedupe_examples` and `validate_examples` are separate steps.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bot.config.skill import NAME_PATTERN
from bot.errors import DataError
from bot.skills.examples import load_examples, text_key
from bot.skills.labels import checked_name, intent_name, utf8_text
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
HWU_COLUMNS = ("scenario", "intent", "answer_annotation")
DEFAULT_SPLIT = "train"
MAX_NOTES = 20


@dataclass
class ImportStats:
    """What an import did: records read, records skipped, slot values dropped, and why."""

    read: int = 0
    skipped: int = 0
    dropped_duplicate_slots: int = 0
    combined_intents: int = 0  # multi-intent labels (a#b) kept as one intent a_and_b
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Keep a note, up to MAX_NOTES of them (then one line says how many were left out)."""
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)
        elif len(self.notes) == MAX_NOTES:
            self.notes.append("(further notes left out)")

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.note(f"skipped {reason}")


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


# ---------------------------------------------------------------- shared helpers


def _words(text: str) -> str:
    """Whitespace normalised to single spaces: slot values are matched word by word."""
    return " ".join(text.split())


def _no_split(path: Path, split: str | None) -> None:
    if split is not None:
        raise DataError(path, f"this data set has no splits, but split '{split}' was asked for",
                        fix="leave out the split")


def _first_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.readline().strip().lstrip("\ufeff")
    except (OSError, UnicodeDecodeError):
        return ""


def _read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file, split on newlines only (not on other Unicode line breaks)."""
    if not path.is_file():
        raise DataError(path, "file not found", fix="check the data set folder")
    lines = utf8_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _split_folder(path: Path, split: str | None, is_leaf: Callable[[Path], bool]) -> Path:
    """The folder holding the data: `path` itself, or its subfolder named by `split`."""
    if is_leaf(path):
        _no_split(path, split)
        return path
    chosen = path / (split or DEFAULT_SPLIT)
    if not is_leaf(chosen):
        available = sorted(p.name for p in path.iterdir() if is_leaf(p))
        raise DataError(path, f"no split '{chosen.name}' here",
                        fix=f"use split= one of: {', '.join(available) or '(none found)'}")
    return chosen


def _has_leaf_child(path: Path, is_leaf: Callable[[Path], bool]) -> bool:
    return path.is_dir() and any(is_leaf(child) for child in path.iterdir())


def _keep_first(pairs: Sequence[tuple[str, str]], stats: ImportStats) -> dict[str, str]:
    """Slot name -> value, keeping the first value of a name that occurs twice."""
    slots: dict[str, str] = {}
    for name, value in pairs:
        slots.setdefault(name, value)
    stats.dropped_duplicate_slots += len(pairs) - len(slots)
    return slots


# ---------------------------------------------------------------- skill JSONL


def _is_jsonl(path: Path) -> bool:
    return path.is_file() and path.suffix == ".jsonl"


def _read_jsonl(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    _no_split(path, split)
    examples = load_examples(path)
    stats.read += len(examples)
    return examples


# ---------------------------------------------------------------- JointBERT (SNIPS, ATIS)


def _is_jointbert_leaf(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in JOINTBERT_FILES)


def _is_jointbert(path: Path) -> bool:
    return _is_jointbert_leaf(path) or _has_leaf_child(path, _is_jointbert_leaf)


def _read_jointbert(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    folder = _split_folder(path, split, _is_jointbert_leaf)
    columns = [_read_lines(folder / name) for name in JOINTBERT_FILES]
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
    return Example(text=" ".join(words), intent=_intent(intent, folder / "label", number, stats),
                   slots=_keep_first(pairs, stats))


def _intent(label: str, path: Path, line: int | None, stats: ImportStats, *, field: str = "intent") -> str:
    name, combined = intent_name(label, path, line, field=field)
    if combined:
        stats.combined_intents += 1
        if stats.combined_intents == 1:
            stats.note(f"{path}:{line}: multi-intent label {label!r} kept as one intent {name!r}")
    return name


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


# ---------------------------------------------------------------- HWU64 CSV


def _hwu_header(path: Path) -> bool:
    if path.suffix != ".csv" or not path.is_file():
        return False
    columns = _first_line(path).split(";")
    return all(name in columns for name in HWU_COLUMNS)


def _is_hwu_leaf(path: Path) -> bool:
    return path.is_dir() and any(_hwu_header(child) for child in path.glob("*.csv"))


def _is_hwu(path: Path) -> bool:
    if path.is_file():
        return _hwu_header(path)
    return _is_hwu_leaf(path) or _has_leaf_child(path, _is_hwu_leaf)


def _read_hwu(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    if path.is_file():
        _no_split(path, split)
        return _read_hwu_file(path, stats)
    folder = _split_folder(path, split, _is_hwu_leaf)
    examples: list[Example] = []
    for csv_path in sorted(folder.glob("*.csv")):
        if _hwu_header(csv_path):
            examples.extend(_read_hwu_file(csv_path, stats))
        else:
            stats.note(f"{csv_path}: no HWU64 header, file left out")
    return examples


def _read_hwu_file(path: Path, stats: ImportStats) -> list[Example]:
    examples: list[Example] = []
    rows = csv.DictReader(io.StringIO(utf8_text(path), newline=""), delimiter=";")
    with _csv_errors(path, rows):
        for row in rows:
            stats.read += 1
            example = _hwu_example(row, stats, path, rows.line_num)
            if example is not None:
                examples.append(example)
    return examples


@contextmanager
def _csv_errors(path: Path, rows: Any) -> Iterator[None]:
    """A CSV the csv module cannot parse (a NUL byte, a field over its size limit) names its line."""
    try:
        yield
    except csv.Error as err:
        raise DataError(path, f"not readable as CSV: {err}", line=rows.line_num or None,
                        fix="check the quoting on this line (a stray quote or a NUL byte)") from None


def _hwu_example(row: dict, stats: ImportStats, path: Path, line: int) -> Example | None:
    where = f"{path}:{line}"
    scenario, intent, annotation = (_words(row.get(name) or "") for name in HWU_COLUMNS)
    if not scenario or not intent:
        stats.skip(f"{where}: no scenario or intent")
        return None
    try:
        text, pairs = parse_annotation(annotation)
    except ValueError as err:
        stats.skip(f"{where}: {err}: {annotation!r}")
        return None
    if not text:
        stats.skip(f"{where}: empty text")
        return None
    name = _intent(f"{scenario}_{intent}", path, line, stats, field="scenario, intent")
    return Example(text=text, intent=name, slots=_keep_first(pairs, stats))


_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
_SLOT_NAME = re.compile(NAME_PATTERN)


def parse_annotation(annotation: str) -> tuple[str, list[tuple[str, str]]]:
    """Text and (slot, value) pairs of an HWU64 annotation such as 'wake me [time : at six]'.

    Each `[slot : value]` becomes its value set off by spaces, so that a value glued to
    punctuation ('[person : robert],') is still whole words of the text. Spacing around the
    colon may vary; slots with an empty value are dropped. Raises ValueError for brackets
    that do not pair up or for a bracket with no slot name before a colon.
    """
    pieces: list[str] = []
    pairs: list[tuple[str, str]] = []
    end = 0
    for match in _BRACKETED.finditer(annotation):
        pieces.append(_plain(annotation[end:match.start()]))
        name, value = _slot_of(match.group(1))
        pieces.append(f" {value} ")
        if value:
            pairs.append((name, value))
        end = match.end()
    pieces.append(_plain(annotation[end:]))
    return _words("".join(pieces)), pairs


def _plain(text: str) -> str:
    if "[" in text or "]" in text:
        raise ValueError("brackets do not pair up")
    return text


def _slot_of(inside: str) -> tuple[str, str]:
    name, colon, value = inside.partition(":")
    name = name.strip()
    if not colon or not _SLOT_NAME.match(name):
        raise ValueError(f"'[{inside}]' is not '[slot_name : value]'")
    return name, _words(value)


# ---------------------------------------------------------------- CLINC150 JSON


def _is_clinc(path: Path) -> bool:
    return path.is_file() and path.suffix == ".json" and _first_line(path).startswith("{")


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
        examples.append(Example(text=_words(record[0]),
                                intent=_intent(record[1], path, None, stats, field=f"{key}[{index}]")))
    return examples


def _is_text_intent(record: object) -> bool:
    if not (isinstance(record, list) and len(record) == 2):
        return False
    return all(isinstance(item, str) and item.strip() for item in record)


# ---------------------------------------------------------------- plain CSV (text,intent)


def _plain_csv_columns(path: Path) -> list[str]:
    return [name.strip().lower() for name in next(csv.reader([_first_line(path)]), [])]


def _is_plain_csv(path: Path) -> bool:
    if not (path.is_file() and path.suffix == ".csv"):
        return False
    columns = _plain_csv_columns(path)
    return "text" in columns and "intent" in columns


def _read_plain_csv(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    _no_split(path, split)
    examples: list[Example] = []
    rows = csv.reader(io.StringIO(utf8_text(path, sig=True), newline=""))
    with _csv_errors(path, rows):
        columns = [name.strip().lower() for name in next(rows)]
        for cells in rows:
            if any(cell.strip() for cell in cells):
                stats.read += 1
                examples.append(_plain_csv_example(path, rows.line_num, columns, cells, stats))
    return examples


def _plain_csv_example(path: Path, number: int, columns: list[str], cells: list[str],
                       stats: ImportStats) -> Example:
    if len(cells) != len(columns):
        raise DataError(path, f"row has {len(cells)} cells, the header has {len(columns)}",
                        line=number, fix="quote a value that holds commas, e.g. \"hi, there\"")
    row = dict(zip(columns, cells))
    for name in ("text", "intent"):
        if not row[name].strip():
            raise DataError(path, "empty", line=number, field=name,
                            fix="give every row a text and an intent")
    return Example(text=_words(row["text"]), intent=_intent(row["intent"], path, number, stats))


# ---------------------------------------------------------------- the registry


FORMATS: dict[str, DatasetFormat] = {
    "skill-jsonl": DatasetFormat(_is_jsonl, _read_jsonl,
                                 "a skill examples file (*.jsonl)"),
    "jointbert": DatasetFormat(_is_jointbert, _read_jointbert,
                               "a JointBERT folder with seq.in, seq.out, label "
                               "(or with train/dev/... subfolders holding them)"),
    "hwu64": DatasetFormat(_is_hwu, _read_hwu,
                           "an HWU64 ';'-separated CSV file, or a folder of them, with columns "
                           "scenario;intent;answer_annotation"),
    "clinc150": DatasetFormat(_is_clinc, _read_clinc,
                              'a CLINC150 JSON file {"train": [[text, intent], ...], ...}'),
    "csv": DatasetFormat(_is_plain_csv, _read_plain_csv,
                         "a comma-separated CSV file with a header holding text,intent"),
}
