"""Importers of comma- and semicolon-separated data: HWU64 (`scenario;intent;answer_annotation`,
slots written `[slot : value]`) and a plain `text,intent` CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from bot.config.skill import NAME_PATTERN
from bot.errors import DataError
from bot.skills.import_common import (ImportStats, csv_errors, first_line, has_leaf_child, intent_of, keep_first,
                                      no_split, split_folder, words)
from bot.skills.labels import utf8_text
from bot.types import Example

__all__ = ["HWU_COLUMNS", "is_hwu", "is_plain_csv", "parse_annotation", "read_hwu", "read_plain_csv"]

HWU_COLUMNS = ("scenario", "intent", "answer_annotation")


# ---------------------------------------------------------------- HWU64 CSV


def _hwu_header(path: Path) -> bool:
    if path.suffix != ".csv" or not path.is_file():
        return False
    columns = first_line(path).split(";")
    return all(name in columns for name in HWU_COLUMNS)


def _is_hwu_leaf(path: Path) -> bool:
    return path.is_dir() and any(_hwu_header(child) for child in path.glob("*.csv"))


def is_hwu(path: Path) -> bool:
    if path.is_file():
        return _hwu_header(path)
    return _is_hwu_leaf(path) or has_leaf_child(path, _is_hwu_leaf)


def read_hwu(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    if path.is_file():
        no_split(path, split)
        return _read_hwu_file(path, stats)
    folder = split_folder(path, split, _is_hwu_leaf)
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
    with csv_errors(path, rows):
        for row in rows:
            stats.read += 1
            example = _hwu_example(row, stats, path, rows.line_num)
            if example is not None:
                examples.append(example)
    return examples


def _hwu_example(row: dict, stats: ImportStats, path: Path, line: int) -> Example | None:
    where = f"{path}:{line}"
    scenario, intent, annotation = (words(row.get(name) or "") for name in HWU_COLUMNS)
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
    name = intent_of(f"{scenario}_{intent}", path, line, stats, field="scenario, intent")
    return Example(text=text, intent=name, slots=keep_first(pairs, stats))


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
    return words("".join(pieces)), pairs


def _plain(text: str) -> str:
    if "[" in text or "]" in text:
        raise ValueError("brackets do not pair up")
    return text


def _slot_of(inside: str) -> tuple[str, str]:
    name, colon, value = inside.partition(":")
    name = name.strip()
    if not colon or not _SLOT_NAME.match(name):
        raise ValueError(f"'[{inside}]' is not '[slot_name : value]'")
    return name, words(value)


# ---------------------------------------------------------------- plain CSV (text,intent)


def _plain_csv_columns(path: Path) -> list[str]:
    return [name.strip().lower() for name in next(csv.reader([first_line(path)]), [])]


def is_plain_csv(path: Path) -> bool:
    if not (path.is_file() and path.suffix == ".csv"):
        return False
    columns = _plain_csv_columns(path)
    return "text" in columns and "intent" in columns


def read_plain_csv(path: Path, split: str | None, stats: ImportStats) -> list[Example]:
    no_split(path, split)
    examples: list[Example] = []
    rows = csv.reader(io.StringIO(utf8_text(path, sig=True), newline=""))
    with csv_errors(path, rows):
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
    return Example(text=words(row["text"]), intent=intent_of(row["intent"], path, number, stats))
