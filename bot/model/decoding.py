"""Constrained decoding of a frame for the untuned prompting modes: ` Intent | words copied from
the message = slot` then end (the format, the word-span rule and slot order: `bot.skills.frame_text`).

Each piece is tokenised on its own, both for demonstrations and for the decoder's tries, so what
the model is shown is exactly what the decoder allows: intents from the closed set, values copied
as word spans of the message, in the order they occur and never overlapping (as a slot tagger
reads them), each followed by its slot name from the skill's set (each at most once). Value
first: the model points at the words, then names them with the words in view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from bot.config import SkillConfig
from bot.skills.frame_text import EQUALS, MAX_SPAN_WORDS, SEPARATOR, ordered_slots, piece, word_spans
from bot.types import Frame

__all__ = ["EQUALS", "FrameCodec", "FrameDecoder", "MAX_SPAN_WORDS", "SEPARATOR"]


@dataclass
class _Node:
    children: dict[int, "_Node"] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # every name that passes through this node
    ends: str | None = None  # the name that ends exactly here
    last_start: int = -1  # values: the latest word index a span through this node may start at


def _trie(pieces: dict[str, list[int]], starts: dict[str, list[int]] | None = None) -> _Node:
    root = _Node()
    for name, ids in pieces.items():
        latest = max(starts[name]) if starts else -1
        node = root
        node.names.add(name)
        node.last_start = max(node.last_start, latest)
        for token in ids:
            node = node.children.setdefault(token, _Node())
            node.names.add(name)
            node.last_start = max(node.last_start, latest)
        node.ends = name
    return root


class FrameCodec:
    """Token pieces of one skill's schema: encodes gold frames, makes a decoder per message."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, intents: list[str], slots: list[str], *,
                 intent_slots: dict[str, list[str]] | None = None) -> None:
        self.tokenizer = tokenizer
        # once the intent is read, only its own slots may be named (default: any slot)
        self.intent_slots = {i: set(slots) for i in intents} | {i: set(s) for i, s in (intent_slots or {}).items()}
        self.end = tokenizer.eos_token_id
        self.separator = self._piece(SEPARATOR)
        self.equals = self._piece(EQUALS)
        if len(self.separator) != 1 or len(self.equals) != 1:
            raise ValueError("tokenizer splits the frame separators; the frame format needs one token each")
        self.intent_trie = _trie({name: self._piece(piece(name)) for name in intents})
        self.slot_trie = _trie({name: self._piece(piece(name)) for name in slots})

    def _piece(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def encode(self, intent: str, slots: dict[str, str], text: str) -> list[int]:
        """Target token ids for a gold frame; slots in the order their values occur in the text."""
        ids = self._piece(piece(intent))
        for name, value, _ in ordered_slots(text, slots):
            ids += self.separator + self._piece(piece(value)) + self.equals + self._piece(piece(name))
        return ids + [self.end]

    @classmethod
    def for_skill(cls, tokenizer: PreTrainedTokenizerBase, config: "SkillConfig") -> "FrameCodec":
        return cls(tokenizer, config.intent_names, config.slot_names, intent_slots=config.intent_slots)

    def decoder(self, text: str) -> "FrameDecoder":
        spans: dict[str, list[int]] = {}
        starts: dict[str, list[int]] = {}
        for start, value in word_spans(text, MAX_SPAN_WORDS):
            if value not in spans:
                ids = self._piece(piece(value))
                if {self.end, self.separator[0], self.equals[0]} & set(ids):  # read as the frame's syntax
                    continue
                spans[value] = ids
            starts.setdefault(value, []).append(start)
        return FrameDecoder(self, _trie(spans, starts), starts)


class FrameDecoder:
    """Per-message state machine: which tokens may come next, and the frame once finished."""

    def __init__(self, codec: FrameCodec, value_trie: _Node, starts: dict[str, list[int]]) -> None:
        self.codec, self.value_trie, self.starts = codec, value_trie, starts
        self.next_word = 0  # values start at or after this word: in text order, no overlap
        self.state = "intent"
        self.node = codec.intent_trie
        self.intent: str | None = None
        self.intent_logprob = 0.0
        self.slots: dict[str, str] = {}
        self.pending_value: str | None = None
        self.done = False

    def allowed(self) -> list[int]:
        """Token ids allowed next; never empty until done."""
        if self.state == "value":
            options = [t for t, child in self.node.children.items() if child.last_start >= self.next_word]
            placeable = self.node.ends is not None and self._start(self.node.ends) is not None
            return options + (self.codec.equals if placeable else [])
        if self.state == "slot":
            usable = self.codec.intent_slots[self.intent] - self.slots.keys()
            options = [t for t, child in self.node.children.items() if child.names & usable]
            if self.node.ends is None or self.node.ends not in usable:
                return options
            names_left = usable - {self.node.ends}
        else:
            options = list(self.node.children)
            if self.node.ends is None:
                return options
            names_left = self.codec.intent_slots[self.node.ends]
        options.append(self.codec.end)
        if names_left and self.value_trie.last_start >= self.next_word:
            options += self.codec.separator  # another slot needs a name and words left to copy
        return options

    def _start(self, value: str) -> int | None:
        """Where `value` would start: its first place at or after `next_word`."""
        return next((s for s in self.starts.get(value, ()) if s >= self.next_word), None)

    def advance(self, token: int, logprob: float) -> None:
        """Consume the chosen token (which must come from `allowed()`); logprob feeds confidence."""
        if self.state == "intent":
            self.intent_logprob += logprob
        if token in self.node.children:
            self.node = self.node.children[token]
        elif self.state == "value":  # the equals sign closes the value; its name follows
            self.pending_value = self.node.ends
            self.next_word = self._start(self.pending_value) + len(self.pending_value.split())
            self.state, self.node = "slot", self.codec.slot_trie
        else:
            self._finish_piece(token)

    def _finish_piece(self, token: int) -> None:
        if self.state == "intent":
            self.intent = self.node.ends
        else:
            self.slots[self.node.ends] = self.pending_value
            self.pending_value = None
        if token == self.codec.end:
            self.done = True
        else:
            self.state, self.node = "value", self.value_trie

    def frame(self) -> Frame:
        return Frame(intent=self.intent or "", slots=dict(self.slots),
                     confidence=min(1.0, math.exp(self.intent_logprob)))
