"""A reply in pieces as it is made: what the manager passes on while a turn is answered.

A generated reply reaches the user token by token (`Understanding.generate(..., on_piece=...)`);
template and action replies come whole once the turn is done. `ReplyPieces.finish` sends what the
final reply adds to the pieces already sent (a resumed request's question after a generated answer),
so the pieces always join to the reply the turn stores.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

__all__ = ["OnPiece", "ReplyPieces", "word_pieces"]

log = logging.getLogger("bot.dialogue")

OnPiece = Callable[[str], None]  # called with each piece of the reply text, in order


class ReplyPieces:
    """Forwards non-empty pieces to `send` and remembers what was sent."""

    def __init__(self, send: OnPiece) -> None:
        self._send = send
        self.sent = ""

    def __call__(self, piece: str) -> None:
        if piece:
            self.sent += piece
            self._send(piece)

    def finish(self, text: str) -> None:
        """Send the rest of the final reply `text`. A turn that failed after pieces went out replies
        with other text: it follows on a new line (the stored reply is `text` alone)."""
        if text.startswith(self.sent):
            self(text[len(self.sent):])
        else:
            log.warning("the reply changed after %d characters were streamed; sending it on a new line",
                        len(self.sent))
            self("\n" + text)


def word_pieces(text: str) -> list[str]:
    """`text` cut into words with their following spaces; the pieces join back to `text` exactly."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
