"""Read turns with a tuned skill in ONE forward pass: deep prompt + read-out heads.

The skill's deep prompt (a cached key/value prefix) steers the frozen model over the echoed turn;
the intent head reads the last token, the tag head each word's tokens, and a Viterbi pass
turns the tag scores into valid spans of the intent's own slots. No token is generated.
Rows of a batch may belong to different skills: each runs behind its own prefix and its own heads.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from bot.config import PromptMode, SkillConfig
from bot.model.readout import TurnLayout, layout_turn, stacked_features, turn_mask, word_states
from bot.model.passes import plan_passes
from bot.model.reader import Reading
from bot.model.runtime import Runtime
from bot.model.tables import Table, check_labels
from bot.model.tagging import OUTSIDE, slots_from_tags, transition_mask, viterbi
from bot.types import Frame

__all__ = ["TunedReader", "read_tuned", "turn_scores"]


class TunedReader:
    """One tuned skill, ready to read batches of turns (its prefix computed once)."""

    mode = PromptMode.tuned

    def __init__(self, runtime: Runtime, config: SkillConfig, table: Table) -> None:
        check_labels(table.spec, config, config.name)
        self.runtime, self.config, self.table = runtime, config, table
        self.heads, self.spec = table.heads, table.spec
        with torch.no_grad():
            self.prefix = runtime.prefix(table, [])
        self.transitions = transition_mask(self.spec.tags)
        self.usable = {intent: self._usable(slots) for intent, slots in config.intent_slots.items()}

    def _usable(self, slots: list[str]) -> torch.Tensor:
        """Tags an intent may use: `O` and the B-/I- tags of its own slots."""
        return torch.tensor([t == OUTSIDE or t[2:] in slots for t in self.spec.tags])

    def layout(self, text: str) -> TurnLayout:
        return layout_turn(self.runtime.base.tokenizer, text, echo=self.spec.echo)

    def read(self, texts: Sequence[str], *, batch_size: int = 32) -> list[Reading]:
        """Frames for each text, a batch per forward pass; every frame validates against the schema."""
        readings: list[Reading] = []
        for start in range(0, len(texts), batch_size):
            readings += read_tuned([(self, t) for t in texts[start:start + batch_size]])
        return readings

    def frame(self, intent_logits: torch.Tensor, tag_scores: torch.Tensor, words: list[str]) -> Frame:
        """The calibrated intent, then the best valid tag path over that intent's slots."""
        probabilities = torch.softmax(intent_logits / self.spec.temperature, dim=-1)
        best = int(probabilities.argmax())
        intent = self.spec.intents[best]
        path = viterbi(tag_scores, self.transitions, self.usable[intent])
        return Frame(intent=intent, slots=slots_from_tags(words, path, self.spec.tags),
                     confidence=min(1.0, max(0.0, float(probabilities[best]))))


@torch.no_grad()
def turn_scores(requests: Sequence[tuple[TunedReader, str]]) -> list[tuple[torch.Tensor, torch.Tensor, TurnLayout]]:
    """Per turn: raw intent logits `[I]`, tag log-probabilities `[W, K]` and its layout. The rows
    run in as few passes as pay (`plan_passes`): rows of shallower readers or much shorter turns
    get a pass of their own once there are enough of them."""
    runtime = requests[0][0].runtime
    layouts = [reader.layout(text) for reader, text in requests]
    plan = plan_passes([(max(reader.spec.layers), len(layout.ids)) for (reader, _), layout in zip(requests, layouts)],
                       runtime.layer_cost)
    out: list = [None] * len(requests)
    for rows in plan:
        readers = [requests[i][0] for i in rows]
        layers = {layer for reader in readers for layer in reader.spec.layers}
        states = runtime.layer_states([r.prefix for r in readers], [layouts[i].ids for i in rows], layers)
        width = next(iter(states.values())).shape[1]
        for row, (i, reader) in enumerate(zip(rows, readers)):
            layout = layouts[i]
            features = stacked_features({k: v[row:row + 1] for k, v in states.items()}, reader.spec.layers)
            intent_logits = reader.heads.intent_logits(features, turn_mask(width, [layout]))[0]
            words = word_states(features, [layout], reader.spec.word)
            tag_scores = torch.log_softmax(reader.heads.tag_logits(words, [len(layout.positions)]), dim=-1)
            out[i] = (intent_logits, tag_scores, layout)
    return out


def read_tuned(requests: Sequence[tuple[TunedReader, str]]) -> list[Reading]:
    """Read turns of any tuned skills in one forward pass, each row behind its own prefix."""
    if not requests:
        return []
    began = time.perf_counter()
    scored = turn_scores(requests)
    frames = [reader.frame(logits, tags, layout.words)
              for (reader, _), (logits, tags, layout) in zip(requests, scored)]
    elapsed = time.perf_counter() - began
    return [Reading(frame=frame, seconds=elapsed, tokens=0) for frame in frames]
