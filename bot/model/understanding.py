"""`Understanding` over the one frozen model: a router table picks the skill, the skill's table reads.

Routing is itself a tuned skill whose intents are the skill names (plus `out_of_scope`): adding a
skill re-tunes only this small router table (`bot tune --router`), never the other skills.
Reads from concurrent conversations go through one `ReadBatcher` (rows of different skills in one
batch); each skill's prefix comes from a `ReaderCache`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.model.batching import ReadBatcher
from bot.model.prefix_cache import ReaderCache
from bot.model.reader import greedy_line
from bot.model.runtime import Runtime
from bot.skills.skill import Skill
from bot.types import Frame, HistoryEntry, Route

__all__ = ["OUT_OF_SCOPE", "ModelUnderstanding"]

OUT_OF_SCOPE = "out_of_scope"
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
        if self.router is None:
            if len(self.skills) == 1:
                return Route(next(iter(self.skills)), 1.0)
            raise RuntimeError("several skills but no router table; run `bot tune --router`")
        frame = self.batcher.read(self.readers.get(self.router), text).frame
        if frame.intent == OUT_OF_SCOPE or frame.confidence < self.min_route_confidence:
            return Route(None, frame.confidence)
        return Route(frame.intent, frame.confidence)

    def read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> Frame:
        return self.batcher.read(self.readers.get(self.skills[skill]), text).frame

    def generate(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> str:
        """A free reply in the skill's voice, with as much recent history as the budget allows."""
        tokenizer = self.runtime.base.tokenizer
        config = self.skills[skill].config
        lines = [f"{'User' if h.role == 'user' else 'Bot'}: {h.text}" for h in history]
        kept: list[str] = []
        for line in reversed(lines):
            if len(tokenizer.encode("\n".join([line, *kept]))) > self.history_tokens:
                break
            kept.insert(0, line)
        prompt = f"{config.description}\n" + "\n".join([*kept, f"User: {text}", "Bot:"])
        ids = tokenizer.encode(prompt, add_special_tokens=False)
        empty = self.runtime.empty_prefix()
        return self.batcher.exclusive(
            lambda: greedy_line(self.runtime, [empty], [ids], GENERATE_TOKENS)[0].strip())
