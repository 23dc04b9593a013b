"""What every importer shares: the import's statistics and notes, reading lines and split folders,
and intent names checked (or combined, for JointBERT's `a#b`) where they are read."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import DataError
from bot.skills.labels import intent_name, utf8_text

__all__ = ["DEFAULT_SPLIT", "ImportStats", "csv_errors", "first_line", "has_leaf_child", "intent_of", "keep_first",
           "no_split", "read_lines", "split_folder", "words"]

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




def words(text: str) -> str:
    """Whitespace normalised to single spaces: slot values are matched word by word."""
    return " ".join(text.split())


def no_split(path: Path, split: str | None) -> None:
    if split is not None:
        raise DataError(path, f"this data set has no splits, but split '{split}' was asked for",
                        fix="leave out the split")


def first_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.readline().strip().lstrip("\ufeff")
    except (OSError, UnicodeDecodeError):
        return ""


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file, split on newlines only (not on other Unicode line breaks)."""
    if not path.is_file():
        raise DataError(path, "file not found", fix="check the data set folder")
    lines = utf8_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def split_folder(path: Path, split: str | None, is_leaf: Callable[[Path], bool]) -> Path:
    """The folder holding the data: `path` itself, or its subfolder named by `split`."""
    if is_leaf(path):
        no_split(path, split)
        return path
    chosen = path / (split or DEFAULT_SPLIT)
    if not is_leaf(chosen):
        available = sorted(p.name for p in path.iterdir() if is_leaf(p))
        raise DataError(path, f"no split '{chosen.name}' here",
                        fix=f"use split= one of: {', '.join(available) or '(none found)'}")
    return chosen


def has_leaf_child(path: Path, is_leaf: Callable[[Path], bool]) -> bool:
    return path.is_dir() and any(is_leaf(child) for child in path.iterdir())


def keep_first(pairs: Sequence[tuple[str, str]], stats: ImportStats) -> dict[str, str]:
    """Slot name -> value, keeping the first value of a name that occurs twice."""
    slots: dict[str, str] = {}
    for name, value in pairs:
        slots.setdefault(name, value)
    stats.dropped_duplicate_slots += len(pairs) - len(slots)
    return slots


def intent_of(label: str, path: Path, line: int | None, stats: ImportStats, *, field: str = "intent") -> str:
    name, combined = intent_name(label, path, line, field=field)
    if combined:
        stats.combined_intents += 1
        if stats.combined_intents == 1:
            stats.note(f"{path}:{line}: multi-intent label {label!r} kept as one intent {name!r}")
    return name


@contextmanager
def csv_errors(path: Path, rows: Any) -> Iterator[None]:
    """A CSV the csv module cannot parse (a NUL byte, a field over its size limit) names its line."""
    try:
        yield
    except csv.Error as err:
        raise DataError(path, f"not readable as CSV: {err}", line=rows.line_num or None,
                        fix="check the quoting on this line (a stray quote or a NUL byte)") from None
