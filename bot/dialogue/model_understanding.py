"""`Understanding` over the one frozen model: a router table picks the skill, the skill's table reads.

Routing is itself a tuned skill whose intents are the skill names (plus `out_of_scope`): adding a
skill re-tunes only this small router table (`bot tune --router`), never the other skills.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from bot.dialogue.understanding import Route
from bot.model.reader import FrameReader, greedy_line, reader_for
from bot.model.runtime import Runtime
from bot.skills.skill import Skill
from bot.types import Frame, HistoryEntry

__all__ = ["OUT_OF_SCOPE", "ModelUnderstanding"]

OUT_OF_SCOPE = "out_of_scope"
GENERATE_TOKENS = 48


class ModelUnderstanding:
    """Routes, reads and generates with per-skill readers whose prefixes are computed once."""

    def __init__(self, runtime: Runtime, skills: Mapping[str, Skill], *, router: Skill | None = None,
                 min_route_confidence: float = 0.5, history_tokens: int = 256) -> None:
        self.runtime, self.skills, self.router = runtime, dict(skills), router
        self.min_route_confidence, self.history_tokens = min_route_confidence, history_tokens
        self._readers: dict[str, FrameReader] = {}
        self._lock = threading.Lock()  # one forward pass at a time on the shared model

    def _reader(self, name: str, skill: Skill) -> FrameReader:
        if name not in self._readers:
            self._readers[name] = reader_for(self.runtime, skill)
        return self._readers[name]

    def route(self, text: str, history: Sequence[HistoryEntry]) -> Route:
        if self.router is None:
            if len(self.skills) == 1:
                return Route(next(iter(self.skills)), 1.0)
            raise RuntimeError("several skills but no router table; run `bot tune --router`")
        with self._lock:
            frame = self._reader("_router", self.router).read([text])[0].frame
        if frame.intent == OUT_OF_SCOPE or frame.confidence < self.min_route_confidence:
            return Route(None, frame.confidence)
        return Route(frame.intent, frame.confidence)

    def read(self, skill: str, text: str, history: Sequence[HistoryEntry]) -> Frame:
        with self._lock:
            return self._reader(skill, self.skills[skill]).read([text])[0].frame

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
        with self._lock:
            ids = tokenizer.encode(prompt, add_special_tokens=False)
            empty = self.runtime.empty_prefix()
            return greedy_line(self.runtime, [empty], [ids], GENERATE_TOKENS)[0].strip()
