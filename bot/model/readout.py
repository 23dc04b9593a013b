"""The one-pass reader's parts: how a turn is laid out, and the heads that read its labels.

A causal model's token sees only what stands before it, so a tagger reading "play *jazz* music"
could not see "music": with echo the heads read a second copy of the turn, every token of which
has seen the whole turn, and the tag head mixes the words with a small bidirectional GRU. The
intent head reads the mean over the turn (`pool: mean`; the last token is the last word's, and
reads intents worse); the tag head reads each word as the mean of its tokens' states (`word: mean`;
the first token alone, `word: first`, knows only "6" of "6:45"). Both read the states of a few
layers (through the final norm), side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from safetensors.torch import load_file, save_file

from bot.skills.manifest import ReadoutSpec

__all__ = ["HEADS_FILE", "MAX_WORDS", "ReadoutHeads", "TurnLayout", "fit_temperature", "layout_turn",
           "pooled_states", "stacked_features", "turn_mask", "word_states"]

HEADS_FILE = "heads.safetensors"
MAX_WORDS = 48  # words past this are not tagged (a turn is a sentence or two)
SEPARATOR = "\n"
NAME_LOGIT = 12.0  # how strongly a fresh intent head leans on the names (a turn's logits start within about this)


@dataclass(frozen=True)
class TurnLayout:
    """A turn's token ids; word w's tokens are `ids[positions[w]:ends[w]]` in the read copy."""

    ids: list[int]
    words: list[str]
    positions: list[int]
    ends: list[int]


def layout_turn(tokenizer, text: str, *, echo: bool) -> TurnLayout:
    """Each word tokenised with its leading space, so word boundaries are token boundaries."""
    words = text.split()[:MAX_WORDS]
    pieces = [tokenizer.encode(" " + word, add_special_tokens=False) for word in words]
    ids: list[int] = []
    if echo:
        ids = [token for piece in pieces for token in piece]
        ids += tokenizer.encode(SEPARATOR, add_special_tokens=False)
    positions, ends = [], []
    for piece in pieces:
        positions.append(len(ids))
        ids += piece
        ends.append(len(ids))
    if not ids:  # an empty turn still needs one token to read an intent from
        ids = tokenizer.encode(SEPARATOR, add_special_tokens=False)
    return TurnLayout(ids=ids, words=words, positions=positions, ends=ends)


class ReadoutHeads(torch.nn.Module):
    """The intent head reads the last token; the tag head reads each word, after a small
    bidirectional GRU over the words (a causal model's word state has not seen its right side)."""

    def __init__(self, spec: ReadoutSpec, width: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.spec, self.width = spec, width
        self.dropout = torch.nn.Dropout(dropout)  # on the word states, while training only
        features = width * len(spec.layers)
        self.intent = torch.nn.Linear(features * (2 if spec.pool == "last+mean" else 1), len(spec.intents))
        if spec.context:
            self.project = torch.nn.Linear(features, spec.context)
            self.mix = torch.nn.GRU(spec.context, spec.context // 2, batch_first=True, bidirectional=True)
            self.tags = torch.nn.Linear(2 * spec.context, len(spec.tags))
        else:
            self.tags = torch.nn.Linear(features, len(spec.tags))

    def intent_logits(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`[B, I]` from a batch's states `[B, L, F]` (left-padded; `mask` `[B, L]` marks the turn's
        own tokens): the mean over the turn (`mean`), the last token's state (`last`), or both."""
        return self.pooled_intent_logits(pooled_states(features, mask))

    def pooled_intent_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """`[B, I]` from `pooled_states` (live, or cached by the warm start)."""
        return self.intent(self._intent_inputs(pooled))

    def start_intents_at(self, pooled: torch.Tensor) -> None:
        """Point each intent's weights along the model's own state of that intent's words (`[I, 2, F]`
        from `pooled_states`, less their mean), so a head fitted on a few examples per intent starts
        from what the names mean instead of at random (dev intent, 2 examples per intent: SNIPS
        70.1 -> 81.9 %, HWU64 49.1 -> 57.9 %; from 10 per intent on, no change)."""
        inputs = self._intent_inputs(pooled)
        centred = inputs - inputs.mean(0)
        scale = NAME_LOGIT / inputs.norm(dim=1).mean().clamp(min=1e-6)
        with torch.no_grad():
            self.intent.weight.copy_(scale * centred / centred.norm(dim=1, keepdim=True).clamp(min=1e-6))
            self.intent.bias.zero_()

    def _intent_inputs(self, pooled: torch.Tensor) -> torch.Tensor:
        inputs = {"last": pooled[:, 0], "mean": pooled[:, 1]}.get(self.spec.pool)
        return pooled.flatten(1) if inputs is None else inputs

    def tag_logits(self, words: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """`[N, K]` tag logits for the words `[N, F]` of turns of `lengths` words, in order."""
        lengths = [n for n in lengths if n]  # a turn without words adds no rows
        if not lengths:
            return words.new_zeros(0, len(self.spec.tags))
        words = self.dropout(words)
        if not self.spec.context:
            return self.tags(words)
        projected = torch.nn.functional.gelu(self.project(words))
        padded = torch.nn.utils.rnn.pad_sequence(list(projected.split(lengths)), batch_first=True)
        packed = torch.nn.utils.rnn.pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        mixed, _ = self.mix(packed)
        mixed, _ = torch.nn.utils.rnn.pad_packed_sequence(mixed, batch_first=True)
        flat = torch.cat([mixed[i, :n] for i, n in enumerate(lengths)])
        return self.tags(torch.cat([projected, flat], dim=-1))

    def save(self, directory) -> None:
        # 16-bit on disk keeps a skill under a megabyte; `rounded` gives training the same numbers
        save_file({k: v.detach().to(torch.float16).contiguous() for k, v in self.state_dict().items()},
                  f"{directory}/{HEADS_FILE}")

    def rounded(self) -> "ReadoutHeads":
        """A frozen copy with the weights as they will be stored (fp16), for dev checks."""
        twin = ReadoutHeads(self.spec, self.width)
        twin.load_state_dict({k: v.detach().to(torch.float16).float() for k, v in self.state_dict().items()})
        return twin.eval().requires_grad_(False)

    @classmethod
    def load(cls, directory, spec: ReadoutSpec, width: int) -> "ReadoutHeads":
        heads = cls(spec, width)
        state = {k: v.float() for k, v in load_file(f"{directory}/{HEADS_FILE}").items()}
        heads.load_state_dict(state)  # shapes are checked: a wrong label count fails here
        return heads.eval().requires_grad_(False)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T that makes softmax(logits / T) best calibrated on held-out turns (least NLL)."""
    if logits.shape[0] == 0:
        return 1.0
    grid = torch.logspace(-1, 1.2, 60)  # 0.1 .. 16
    losses = [torch.nn.functional.cross_entropy(logits / t, labels).item() for t in grid]
    return float(grid[int(torch.tensor(losses).argmin())])


def pooled_states(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`[B, 2, F]`: each row's last token state and its mean over the turn's own tokens (`mask` `[B, L]`),
    all the intent head may read."""
    weights = mask.to(features.dtype).unsqueeze(-1)
    mean = (features * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return torch.stack([features[:, -1], mean], dim=1)


def stacked_features(states: dict[int, torch.Tensor], layers: list[int]) -> torch.Tensor:
    """`[B, L, h * len(layers)]`: the chosen layers' states side by side, as float32."""
    return torch.cat([states[layer].float() for layer in layers], dim=-1)


def turn_mask(width: int, layouts: list[TurnLayout]) -> torch.Tensor:
    """`[B, width]`: 1 on each row's own tokens (rows are left-padded)."""
    mask = torch.zeros(len(layouts), width)
    for i, layout in enumerate(layouts):
        mask[i, width - len(layout.ids):] = 1.0
    return mask


def word_states(features: torch.Tensor, layouts: list[TurnLayout], word: str) -> torch.Tensor:
    """`[N, F]`: every word of a left-padded batch `[B, L, F]`, in order: the mean of its tokens'
    states (`mean`) or its first token's (`first`)."""
    width = features.shape[1]
    rows, columns, owners, count = [], [], [], 0
    for i, layout in enumerate(layouts):
        offset = width - len(layout.ids)
        for start, end in zip(layout.positions, layout.ends):
            span = range(start, end if word == "mean" else start + 1)
            rows += [i] * len(span)
            columns += [offset + p for p in span]
            owners += [count] * len(span)
            count += 1
    gathered = features[rows, columns]
    if word != "mean":
        return gathered
    index = torch.tensor(owners, dtype=torch.long, device=features.device)
    sums = features.new_zeros(count, features.shape[-1]).index_add(0, index, gathered)
    sizes = torch.bincount(index, minlength=count).clamp(min=1).unsqueeze(-1).to(features.dtype)
    return sums / sizes
