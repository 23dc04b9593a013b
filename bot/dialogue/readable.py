"""Text the model cannot read: empty turns, emoji or symbols alone, and mostly non-Latin script.

Detected from the characters alone, before any model call, so such a turn never reaches a skill
that would read it confidently and wrongly:
- `empty`: nothing but white space;
- `symbols`: no letter and no digit at all (emoji, punctuation);
- `script`: fewer than `min_latin_share` of its letters are Latin (Unicode names "LATIN ..."), as
  in Japanese, Russian or Arabic text. The shipped model and skills were tuned on English only.
Another language written in Latin letters ("réveille-moi à sept heures") is not caught here.
"""

from __future__ import annotations

import unicodedata

__all__ = ["UNREADABLE_REASONS", "unreadable"]

UNREADABLE_REASONS = ("empty", "symbols", "script")


def unreadable(text: str, *, min_latin_share: float) -> str | None:
    """Why the turn cannot be read (one of UNREADABLE_REASONS), or None if it can."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    letters = [char for char in stripped if char.isalpha()]
    if not letters:
        return None if any(char.isdigit() for char in stripped) else "symbols"
    latin = sum(1 for char in letters if unicodedata.name(char, "").startswith("LATIN"))
    return "script" if latin / len(letters) < min_latin_share else None
