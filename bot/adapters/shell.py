"""The terminal conversation of `bot chat`: a line in is a turn, the reply is printed as it comes
(a generated reply token by token, through the manager's `on_piece`; a template reply whole).

    run_shell(manager, conversation_id="local", debug=True)

Translation only: what to answer is the dialogue manager's business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from bot.dialogue import DialogueManager
from bot.types import Reply, Turn

__all__ = ["CHANNEL", "PROMPT", "QUIT_WORDS", "ReplyLine", "debug_line", "run_shell"]

CHANNEL = "shell"
PROMPT = "> "
QUIT_WORDS = frozenset({"quit", "exit"})


def run_shell(manager: DialogueManager, *, conversation_id: str, debug: bool,
              input_fn: Callable[[str], str] = input, console: Console | None = None) -> None:
    """Converse until end of input, 'quit'/'exit' or Ctrl-C; with `debug`, show what was understood."""
    console = console or Console()
    if input_fn is input:
        _line_editing()
    console.print(Text("Type 'quit' or press Ctrl-D to end.", style="dim"))
    try:
        while (line := _next_line(input_fn)) is not None:
            reply = manager.handle(Turn(conversation_id=conversation_id, text=line, channel=CHANNEL),
                                   ReplyLine(console))
            console.print()  # the pieces joined to the reply; end its line
            if debug:
                console.print(Text(debug_line(reply), style="dim"))
    except (EOFError, KeyboardInterrupt):  # Ctrl-D, or Ctrl-C at the prompt or while a turn runs
        console.print()  # the terminal's cursor is still on the prompt line


def _next_line(input_fn: Callable[[str], str]) -> str | None:
    """The next non-empty line, or None when the user types a quit word."""
    while True:
        line = input_fn(PROMPT).strip()
        if line.lower() in QUIT_WORDS:
            return None
        if line:
            return line


class ReplyLine:
    """Shows a reply's pieces as they come, wrapping at spaces: the words still to come are unknown,
    so the console cannot wrap the reply as a whole (and the terminal would cut words). Spaces wait
    for the next word, so a line never ends past the width nor starts with a space."""

    def __init__(self, console: Console) -> None:
        self.console, self.column, self._spaces = console, 0, ""

    def __call__(self, piece: str) -> None:
        for part in re.findall(r"\s+|\S+", piece):
            if not part.isspace():
                self._word(part)
            elif "\n" in part:  # the reply's own line break
                head, _, self._spaces = part.rpartition("\n")
                self._write(head + "\n")
                self.column = 0
            else:
                self._spaces += part

    def _word(self, word: str) -> None:
        if self._spaces and self.column and self.column + len(self._spaces) + len(word) > self.console.width:
            self._write("\n" + word)  # the word starts the next line
            self.column = len(word)
        else:
            self._write(self._spaces + word)
            self.column += len(self._spaces) + len(word)
        self._spaces = ""

    def _write(self, text: str) -> None:
        # Text: no markup or emoji codes read from the reply; soft wrap: the breaks are ours
        self.console.print(Text(text), end="", soft_wrap=True)


def _line_editing() -> None:
    """Arrow keys and history for `input` where the platform has readline (importing it is enough)."""
    try:
        import readline  # noqa: F401
    except ImportError:
        pass


def debug_line(reply: Reply) -> str:
    """What the bot understood: skill, intent, slots, confidence and the turn's time."""
    frame = reply.frame
    parts = [f"skill={reply.skill or '-'}", f"intent={frame.intent if frame else '-'}",
             f"slots={json.dumps(frame.slots if frame else {}, ensure_ascii=False)}",
             f"confidence={frame.confidence:.2f}" if frame else "confidence=-",
             f"{reply.seconds * 1000:.1f} ms"]
    return "  ".join(parts)
