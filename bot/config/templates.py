"""Reply templates: `{slot}` placeholders, checked when a skill is loaded and filled at each turn.

One definition of what a placeholder is serves both, so a template that loads never fails to fill.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Formatter

__all__ = ["fill_template", "template_fields"]

_FORMATTER = Formatter()


def template_fields(template: str) -> list[str]:
    """The slot names a template uses; ValueError says what is wrong with a malformed one."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as err:
        raise ValueError(f"template {template!r} is malformed ({err})") from None
    names = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(f"template {template!r} has placeholder {{{shown}}}; "
                             "only plain {slot_name} is allowed")
        names.append(name)
    return names


class _Blank(dict):
    """Slot values where an unfilled slot reads as empty text rather than raising KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


def fill_template(template: str, slots: Mapping[str, str]) -> str:
    """The template with its slots filled; an unfilled (optional) slot becomes empty, spaces tidied."""
    text = template.format_map(_Blank(slots))
    if all(slots.get(name) for name in template_fields(template)):
        return text
    # "Alarm set for {time} {day}." with no day would read "Alarm set for 7 am ." otherwise.
    text = re.sub(r" {2,}", " ", text)
    return re.sub(r" +([.,!?;:])", r"\1", text).strip()
