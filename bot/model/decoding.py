"""Constrained decoding of a frame: ` Intent | slot = words copied from the message` then end.

Each piece is tokenised on its own, both for the tuning target and for the decoder's tries, so
what the model learns to emit is exactly what the decoder allows: intents from the closed set,
slot names from the skill's set (each at most once), values copied as word spans of the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from bot.skills.prompts import slot_position
from bot.types import Frame

__all__ = ["FrameCodec", "FrameDecoder", "MAX_SPAN_WORDS"]

MAX_SPAN_WORDS = 12
SEPARATOR = " |"
EQUALS = " ="


@dataclass
class _Node:
    children: dict[int, "_Node"] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # every name that passes through this node
    ends: str | None = None  # the name that ends exactly here


def _trie(pieces: dict[str, list[int]]) -> _Node:
    root = _Node()
    for name, ids in pieces.items():
        node = root
        node.names.add(name)
        for token in ids:
            node = node.children.setdefault(token, _Node())
            node.names.add(name)
        node.ends = name
    return root


class FrameCodec:
    """Token pieces of one skill's schema: encodes gold frames, makes a decoder per message."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, intents: list[str], slots: list[str]) -> None:
        self.tokenizer = tokenizer
        self.end = tokenizer.eos_token_id
        self.separator = self._piece(SEPARATOR)
        self.equals = self._piece(EQUALS)
        if len(self.separator) != 1 or len(self.equals) != 1:
            raise ValueError("tokenizer splits the frame separators; the frame format needs one token each")
        self.intent_trie = _trie({name: self._piece(" " + name) for name in intents})
        self.slot_trie = _trie({name: self._piece(" " + name) for name in slots})

    def _piece(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def encode(self, intent: str, slots: dict[str, str], text: str) -> list[int]:
        """Target token ids for a gold frame; slots in the order their values occur in the text."""
        ids = self._piece(" " + intent)
        for name, value in sorted(slots.items(), key=lambda item: slot_position(text, item[1])):
            ids += self.separator + self._piece(" " + name) + self.equals + self._piece(" " + value)
        return ids + [self.end]

    def decoder(self, text: str) -> "FrameDecoder":
        words = text.split()
        spans = {}
        for start in range(len(words)):
            for stop in range(start + 1, min(len(words), start + MAX_SPAN_WORDS) + 1):
                value = " ".join(words[start:stop])
                ids = spans.setdefault(value, self._piece(" " + value))
                if self.end in ids or self.separator[0] in ids:  # would be read as the frame's syntax
                    del spans[value]
        return FrameDecoder(self, _trie(spans))


class FrameDecoder:
    """Per-message state machine: which tokens may come next, and the frame once finished."""

    def __init__(self, codec: FrameCodec, value_trie: _Node) -> None:
        self.codec, self.value_trie = codec, value_trie
        self.state = "intent"
        self.node = codec.intent_trie
        self.intent: str | None = None
        self.intent_logprob = 0.0
        self.slots: dict[str, str] = {}
        self.pending_slot: str | None = None
        self.done = False

    def allowed(self) -> list[int]:
        """Token ids allowed next; never empty until done."""
        if self.state == "slot":
            unused = [t for t, child in self.node.children.items() if child.names - self.slots.keys()]
            ends_unused = self.node.ends is not None and self.node.ends not in self.slots
            return unused + (self.codec.equals if ends_unused else [])
        options = list(self.node.children)
        if self.node.ends is not None:
            options.append(self.codec.end)
            if self._slot_names_left() and self.value_trie.children:  # a slot needs words to copy
                options += self.codec.separator
        return options

    def _slot_names_left(self) -> bool:
        return bool(self.codec.slot_trie.names - self.slots.keys() - {self.pending_slot})

    def advance(self, token: int, logprob: float) -> None:
        """Consume the chosen token (which must come from `allowed()`); logprob feeds confidence."""
        if self.state == "intent":
            self.intent_logprob += logprob
        if token in self.node.children:
            self.node = self.node.children[token]
        elif self.state == "slot":  # the equals sign closes the slot name
            self.pending_slot, self.state, self.node = self.node.ends, "value", self.value_trie
        else:
            self._finish_piece(token)

    def _finish_piece(self, token: int) -> None:
        if self.state == "intent":
            self.intent = self.node.ends
        else:
            self.slots[self.pending_slot] = self.node.ends
            self.pending_slot = None
        if token == self.codec.end:
            self.done = True
        else:
            self.state, self.node = "slot", self.codec.slot_trie

    def frame(self) -> Frame:
        return Frame(intent=self.intent or "", slots=dict(self.slots),
                     confidence=min(1.0, math.exp(self.intent_logprob)))
