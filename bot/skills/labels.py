"""Intent and slot names as data sets write them, made into names a skill.yaml accepts (or refused
with the file, line, field and fix), and text files that are not UTF-8 refused the same way.

JointBERT-format corpora (ATIS, MixATIS) join the intents of a multi-intent turn with `#`
(`atis_flight#atis_airfare`). JointBERT itself, and the figures published for it, treat each such
label as one class of its own; so does the importer: `atis_flight#atis_airfare` becomes the one
intent `atis_flight_and_atis_airfare` ("atis flight and atis airfare" in its description), and the
import notes how many turns had one. Any other name that is not `NAME_PATTERN` is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.config.skill import NAME_PATTERN
from bot.errors import DataError

__all__ = ["JOINED", "MULTI_INTENT", "checked_name", "intent_name", "utf8_text"]

MULTI_INTENT = "#"  # how JointBERT-format data joins the intents of one turn
JOINED = "_and_"  # how the combined intent's name joins them
_NAME = re.compile(NAME_PATTERN)
NAME_FIX = "names start with a letter and hold only letters, digits, '_', '.' and '-'; rename it in the data"


def intent_name(raw: str, path: Path | str, line: int | None = None, *, field: str = "intent") -> tuple[str, bool]:
    """The skill's intent name for a data set's label, and whether it joined several intents."""
    label = raw.strip()
    parts = [part.strip() for part in label.split(MULTI_INTENT)]
    if len(parts) > 1 and all(_NAME.match(part) for part in parts):
        return JOINED.join(parts), True
    return checked_name(label, path, line, field=field, kind="intent"), False


def checked_name(name: str, path: Path | str, line: int | None = None, *, field: str, kind: str) -> str:
    """`name` if a skill.yaml accepts it, else a DataError naming where it came from."""
    if _NAME.match(name):
        return name
    raise DataError(path, f"{kind} name {name!r} is not a name a skill accepts", line=line, field=field,
                    fix=NAME_FIX)


def utf8_text(path: Path, *, sig: bool = False) -> str:
    """The file's text; a file that is not UTF-8 is a DataError at the line of the first bad byte."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig" if sig else "utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(path, f"not UTF-8 text (byte {err.start}: {raw[err.start:err.start + 1]!r})", line=line,
                        fix="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)") from None
