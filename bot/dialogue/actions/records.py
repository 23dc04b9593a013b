"""Matching and listing stored records for the reply: shared by the alarm and calendar actions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.store.user_data import Record

__all__ = ["matches", "names_unread_number", "normalise"]


def normalise(value: str) -> str:
    """Lower case, punctuation other than ':' dropped, 'the'/'my' dropped, spaces collapsed."""
    words = re.sub(r"[^\w\s:]", " ", value.lower()).split()
    return " ".join(word for word in words if word not in {"the", "my", "a", "an"})


def names_unread_number(text: str, slots: Mapping[str, str]) -> bool:
    """True if the turn has a number no slot read from it holds: it named a time or day the reading
    missed ("remove my 7:30 alarm" read with no time), so "the only one there is" may be the wrong one."""
    read = " ".join(slots.values())
    return any(number not in read for number in re.findall(r"\d+", text))


def matches(record: Record, wanted: Mapping[str, str], fields: Sequence[str]) -> bool:
    """True if every field given in `wanted` is found in the record (either way round)."""
    for name in fields:
        value = wanted.get(name)
        if not value:
            continue
        want, have = normalise(value), normalise(record.get(name, ""))
        if not have or (want not in have and have not in want):
            return False
    return True
