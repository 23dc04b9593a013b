"""Per-skill prefix cache: each skill's reader, whose key/value prefix is computed once.

The prefix (a deep table's keys/values, or the states of instruction and example text) is the
same for every turn of a skill, so it is built on first use and reused. A re-tuned table on disk
is noticed (file times and sizes) and its prefix rebuilt; past `max_bytes` of prefixes the least
recently used skill is dropped and rebuilt if it comes back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from bot.model.readers import AnyReader, reader_for
from bot.model.runtime import PrefixKV, Runtime
from bot.skills.skill import Skill

__all__ = ["DEFAULT_MAX_BYTES", "ReaderCache", "prefix_bytes"]

DEFAULT_MAX_BYTES = 256 * 2**20


def prefix_bytes(prefix: PrefixKV) -> int:
    return sum(t.numel() * t.element_size() for t in [*prefix.keys, *prefix.values])


def _version(skill: Skill) -> tuple:
    """What the prefix depends on: the table files, and the examples (few-shot demonstrations)."""
    files = sorted(skill.table_dir.glob("*")) if skill.table_dir.is_dir() else []
    stamps = []
    for path in [*files, skill.examples_path]:
        try:
            stat = Path(path).stat()
            stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        except FileNotFoundError:
            continue
    return tuple(stamps)


class ReaderCache:
    """Readers by skill folder; thread-safe; bounded by the bytes of their prefixes."""

    def __init__(self, runtime: Runtime, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.runtime, self.max_bytes = runtime, max_bytes
        self._entries: OrderedDict[str, tuple[tuple, AnyReader, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0  # how many prefixes were computed (tests and benchmarks read it)

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self._entries.values())

    def get(self, skill: Skill) -> AnyReader:
        key, version = str(skill.root.resolve()), _version(skill)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                return entry[1]
            reader = reader_for(self.runtime, skill)
            self.builds += 1
            self._entries[key] = (version, reader, prefix_bytes(reader.prefix))
            self._entries.move_to_end(key)
            while self.bytes > self.max_bytes and len(self._entries) > 1:
                self._entries.popitem(last=False)
            return reader
