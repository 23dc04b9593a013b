"""Read turns with an untuned skill (zero-shot, few-shot, chain-of-thought): a cached prompt
prefix, then constrained greedy decoding writes the frame. Tuned skills read in one pass instead
(`bot.model.tuned_reader`)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from bot.config import PromptMode, SkillConfig
from bot.model.decoding import FrameCodec, FrameDecoder
from bot.model.runtime import PrefixKV, Runtime
from bot.skills.prompts import prompt_prefix, turn_text
from bot.types import Example, Frame

__all__ = ["FrameReader", "Reading", "greedy_frames", "greedy_line", "greedy_line_tokens",
           "read_generative"]

MAX_FRAME_TOKENS = 64
MAX_REASONING_TOKENS = 48


@dataclass
class Reading:
    frame: Frame
    seconds: float  # wall time of the batch this turn ran in (its latency when read alone)
    tokens: int


class FrameReader:
    """One skill in one untuned prompting mode, ready to read batches of messages."""

    def __init__(self, runtime: Runtime, config: SkillConfig, mode: PromptMode, *,
                 demonstrations: Sequence[Example] = ()) -> None:
        if mode == PromptMode.tuned:
            raise ValueError("tuned skills read in one pass: use TunedReader")
        self.runtime, self.config, self.mode = runtime, config, mode
        tokenizer = runtime.base.tokenizer
        self.tokenizer = tokenizer
        self.codec = FrameCodec.for_skill(tokenizer, config)
        prefix_text = prompt_prefix(config, mode, demonstrations)
        with torch.no_grad():
            self.prefix: PrefixKV = runtime.prefix(None, tokenizer.encode(prefix_text, add_special_tokens=False))

    def read(self, texts: Sequence[str], *, batch_size: int = 16) -> list[Reading]:
        """Frames for each text, in batches; every frame validates against the skill schema."""
        readings: list[Reading] = []
        for start in range(0, len(texts), batch_size):
            readings += self._read_batch(texts[start:start + batch_size])
        return readings

    def prepare(self, text: str) -> tuple[list[int], FrameDecoder]:
        """The turn's token ids and a decoder for it (what a batch row needs besides the prefix)."""
        return self.tokenizer.encode(turn_text(text, self.mode), add_special_tokens=False), self.codec.decoder(text)

    def _read_batch(self, texts: Sequence[str]) -> list[Reading]:
        began = time.perf_counter()
        rows, decoders = map(list, zip(*(self.prepare(t) for t in texts)))
        with torch.no_grad():
            if self.mode == PromptMode.chain_of_thought:
                rows, reasons = self._reason(rows)
            frames, counts = greedy_frames(self.runtime, [self.prefix] * len(rows), rows, decoders)
        if self.mode == PromptMode.chain_of_thought:
            frames = [f.model_copy(update={"reasoning": r}) for f, r in zip(frames, reasons)]
        elapsed = time.perf_counter() - began
        return [Reading(frame=f, seconds=elapsed, tokens=n) for f, n in zip(frames, counts)]

    def _reason(self, rows: list[list[int]]) -> tuple[list[list[int]], list[str]]:
        """Free greedy text up to the end of the line, then the frame continues after 'Frame:'."""
        texts = greedy_line(self.runtime, [self.prefix] * len(rows), rows, MAX_REASONING_TOKENS)
        follow = self.tokenizer.encode("\nFrame:", add_special_tokens=False)
        grown = [row + self.tokenizer.encode(t, add_special_tokens=False) + follow for row, t in zip(rows, texts)]
        return grown, [t.strip() for t in texts]


def read_generative(requests: Sequence[tuple[FrameReader, str]]) -> list[Reading]:
    """Read turns of different untuned skills in one batch, each row behind its own skill's prefix
    (chain-of-thought readers, which write free text first, read their turns on their own)."""
    began = time.perf_counter()
    readings: list[Reading | None] = [None] * len(requests)
    batched = [i for i, (reader, _) in enumerate(requests) if reader.mode != PromptMode.chain_of_thought]
    for i, (reader, text) in enumerate(requests):
        if i not in batched:
            readings[i] = reader.read([text])[0]
    if batched:
        runtime = requests[batched[0]][0].runtime
        prepared = [requests[i][0].prepare(requests[i][1]) for i in batched]
        with torch.no_grad():
            frames, counts = greedy_frames(runtime, [requests[i][0].prefix for i in batched],
                                           [row for row, _ in prepared], [d for _, d in prepared])
        elapsed = time.perf_counter() - began
        for i, frame, count in zip(batched, frames, counts):
            readings[i] = Reading(frame=frame, seconds=elapsed, tokens=count)
    return readings


@torch.no_grad()
def greedy_frames(runtime: Runtime, prefixes: list[PrefixKV], rows: list[list[int]],
                  decoders: list[FrameDecoder]) -> tuple[list[Frame], list[int]]:
    """Constrained greedy decoding of a batch; each row only ever takes tokens its decoder allows.
    Tokens the schema forces (the rest of a name once its start is unique, about 40 % of a frame)
    go in with the chosen token in the same pass: fewer passes, the same frame."""
    hidden, cache, mask, last = runtime.forward(prefixes, rows)
    logits = runtime.logits(hidden[:, -1])
    counts = [0] * len(rows)
    for _ in range(MAX_FRAME_TOKENS):
        chunks = [[] for _ in rows]
        for i, decoder in enumerate(decoders):
            if not decoder.done and counts[i] < MAX_FRAME_TOKENS:
                chunks[i] = [_choose(logits[i], decoder)] + _forced_run(decoder)
                counts[i] += len(chunks[i])
        if all(d.done or n >= MAX_FRAME_TOKENS for d, n in zip(decoders, counts)):
            break
        tokens, chunk_mask, positions = _chunk_batch(runtime, chunks, last)
        last = last + torch.tensor([len(c) for c in chunks], dtype=last.dtype, device=last.device)
        logits, mask = runtime.step(tokens, cache, mask, positions, chunk_mask)
    return [d.frame() for d in decoders], counts


def _choose(logits: torch.Tensor, decoder: FrameDecoder) -> int:
    allowed = torch.tensor(decoder.allowed(), dtype=torch.long)
    logprobs = torch.log_softmax(logits[allowed].float(), dim=-1)  # renormalised over what is allowed
    best = int(torch.argmax(logprobs))
    token = int(allowed[best])
    decoder.advance(token, float(logprobs[best]))
    return token


def _forced_run(decoder: FrameDecoder) -> list[int]:
    """Take every token that is the only one allowed (its log-probability renormalised is 0)."""
    run: list[int] = []
    while not decoder.done and len(allowed := decoder.allowed()) == 1:
        decoder.advance(allowed[0], 0.0)
        run.append(allowed[0])
    return run


def _chunk_batch(runtime: Runtime, chunks: list[list[int]], last: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows' new tokens left-padded to one width, with their mask and position ids."""
    width = max(len(c) for c in chunks)
    tokens = torch.full((len(chunks), width), runtime.pad_id, dtype=torch.long, device=last.device)
    chunk_mask = torch.zeros_like(tokens)
    positions = torch.zeros_like(tokens)
    for i, chunk in enumerate(chunks):
        if chunk:
            tokens[i, width - len(chunk):] = torch.tensor(chunk, device=last.device)
            chunk_mask[i, width - len(chunk):] = 1
            positions[i, width - len(chunk):] = int(last[i]) + 1 + torch.arange(len(chunk), device=last.device)
    return tokens, chunk_mask, positions


def greedy_line(runtime: Runtime, prefixes: list[PrefixKV], rows: list[list[int]], limit: int) -> list[str]:
    """Unconstrained greedy text for each row until a newline or the end token (all of
    `greedy_line_tokens`, decoded once the lines are done)."""
    produced: list[list[int]] = [[] for _ in rows]
    for step in greedy_line_tokens(runtime, prefixes, rows, limit):
        for i, token in step.items():
            produced[i].append(token)
    return [runtime.base.tokenizer.decode(p) for p in produced]


@torch.no_grad()
def greedy_line_tokens(runtime: Runtime, prefixes: list[PrefixKV], rows: list[list[int]],
                       limit: int) -> Iterator[dict[int, int]]:
    """The one greedy line loop: each step yields {row: token} for the rows whose line goes on,
    before the next forward pass, so a caller can show a token while the following one is computed."""
    tokenizer = runtime.base.tokenizer
    hidden, cache, mask, positions = runtime.forward(prefixes, rows)
    logits = runtime.logits(hidden[:, -1])
    open_rows = set(range(len(rows)))
    for _ in range(limit):
        chosen = logits.argmax(-1)
        step: dict[int, int] = {}
        for i in sorted(open_rows):
            token = int(chosen[i])
            if token == tokenizer.eos_token_id or "\n" in tokenizer.decode([token]):
                open_rows.discard(i)
            else:
                step[i] = token
        if step:
            yield step
        if not open_rows:
            break
        positions = positions + 1
        logits, mask = runtime.step(chosen, cache, mask, positions)
