"""`Understanding` over the one frozen model: a router table picks the skill, the skill's table reads.

Routing is itself a tuned skill whose intents are the skill names (plus `out_of_scope`): adding a
skill re-tunes only this small router table (`bot tune --router`), never the other skills.
Reads from concurrent conversations go through one `ReadBatcher` (rows of different skills in one
batch); each skill's prefix comes from a `ReaderCache`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from transformers import PreTrainedTokenizerBase

from bot.model.batching import ReadBatcher
from bot.model.prefix_cache import ReaderCache
from bot.model.reader import Reading, greedy_line_tokens
from bot.model.runtime import PrefixKV, Runtime
from bot.skills.skill import Skill
from bot.types import Frame, HistoryEntry, Route

__all__ = ["OUT_OF_SCOPE", "ModelUnderstanding", "decoded_pieces", "stream_text", "stripped"]

OUT_OF_SCOPE = "out_of_scope"
T = TypeVar("T")
GENERATE_TOKENS = 48


class ModelUnderstanding:
    """Routes, reads and generates with per-skill readers whose prefixes are computed once."""

    def __init__(self, runtime: Runtime, skills: Mapping[str, Skill], *, router: Skill | None = None,
                 min_route_confidence: float = 0.5, history_tokens: int = 256,
                 batcher: ReadBatcher | None = None, readers: ReaderCache | None = None) -> None:
        self.runtime, self.skills, self.router = runtime, dict(skills), router
        self.min_route_confidence, self.history_tokens = min_route_confidence, history_tokens
        self.batcher = batcher or ReadBatcher()
        self.readers = readers or ReaderCache(runtime)

    def route(self, text: str, history: Sequence[HistoryEntry]) -> Route:
        return self.submit_route(text, history).result()

    def read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> Frame:
        return self.submit_read(skill, text, history).result()

    def submit_route(self, text: str, history: Sequence[HistoryEntry]) -> _Answer[Route] | _Ready[Route]:
        """The route read queued in the batcher now (see `bot.dialogue.understanding.Submitting`)."""
        if self.router is None:
            if len(self.skills) == 1:
                return _Ready(Route(next(iter(self.skills)), 1.0))
            raise RuntimeError("several skills but no router table; run `bot tune --router`")
        return _Answer(self.batcher.submit(self.readers.get(self.router), text), self._route_of)

    def submit_read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> _Answer[Frame]:
        """The skill's read queued in the batcher now, waited for on `result()`."""
        return _Answer(self.batcher.submit(self.readers.get(self.skills[skill]), text), _frame_of)

    def _route_of(self, reading: Reading) -> Route:
        frame = reading.frame
        if frame.intent == OUT_OF_SCOPE or frame.confidence < self.min_route_confidence:
            return Route(None, frame.confidence)
        return Route(frame.intent, frame.confidence)

    def generate(self, skill: str, text: str, history: Sequence[HistoryEntry],
                 on_piece: Callable[[str], None] | None = None) -> str:
        """A free reply in the skill's voice, with as much recent history as the budget allows.
        `on_piece` gets the reply's text piece by piece as tokens are decoded; the pieces join to
        the returned text (streamed or not, the reply is the same)."""
        ids = self._prompt_ids(self.skills[skill].config.description, text, history)
        empty = self.runtime.empty_prefix()

        def decode() -> str:
            pieces = []
            for piece in stream_text(self.runtime, empty, ids, GENERATE_TOKENS):
                pieces.append(piece)
                if on_piece is not None:
                    on_piece(piece)
            return "".join(pieces)

        return self.batcher.exclusive(decode)

    def _prompt_ids(self, description: str, text: str, history: Sequence[HistoryEntry]) -> list[int]:
        tokenizer = self.runtime.base.tokenizer
        lines = [f"{'User' if h.role == 'user' else 'Bot'}: {h.text}" for h in history]
        kept: list[str] = []
        for line in reversed(lines):
            if len(tokenizer.encode("\n".join([line, *kept]))) > self.history_tokens:
                break
            kept.insert(0, line)
        prompt = f"{description}\n" + "\n".join([*kept, f"User: {text}", "Bot:"])
        return tokenizer.encode(prompt, add_special_tokens=False)


class _Answer(Generic[T]):
    """A queued read and what the caller gets out of its reading."""

    def __init__(self, future: Future[Reading], then: Callable[[Reading], T]) -> None:
        self._future, self._then = future, then

    def result(self) -> T:
        return self._then(self._future.result())


class _Ready(Generic[T]):
    """An answer that needed no read."""

    def __init__(self, value: T) -> None:
        self._value = value

    def result(self) -> T:
        return self._value


def _frame_of(reading: Reading) -> Frame:
    return reading.frame


def stream_text(runtime: Runtime, prefix: PrefixKV, row: list[int], limit: int) -> Iterator[str]:
    """Greedy text after `row` up to the end of the line, `strip()`ped, in pieces the moment each
    token is decoded (what `greedy_line` writes for the row, with the model's work in between)."""
    tokens = (step[0] for step in greedy_line_tokens(runtime, [prefix], [row], limit))
    return stripped(decoded_pieces(runtime.base.tokenizer, tokens))


def decoded_pieces(tokenizer: PreTrainedTokenizerBase, tokens: Iterable[int]) -> Iterator[str]:
    """The text each token adds to the decoding of all before it. A token that ends inside a
    character (part of a UTF-8 sequence) waits for the next; the pieces join to `decode(tokens)`."""
    ids: list[int] = []
    sent = ""
    for token in tokens:
        ids.append(token)
        decoded = tokenizer.decode(ids)
        if not decoded.endswith("\ufffd") and decoded.startswith(sent) and len(decoded) > len(sent):
            yield decoded[len(sent):]
            sent = decoded
    decoded = tokenizer.decode(ids)  # a line cut off inside a character ends as decode() ends it
    if decoded.startswith(sent) and len(decoded) > len(sent):
        yield decoded[len(sent):]


def stripped(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces of `"".join(pieces).strip()`: leading space dropped, trailing space held back
    until text follows it (and dropped at the end)."""
    held, started = "", False
    for piece in pieces:
        if not started:
            piece = piece.lstrip()
            started = bool(piece)
        body = (held + piece).rstrip()
        held = (held + piece)[len(body):]
        if body:
            yield body
