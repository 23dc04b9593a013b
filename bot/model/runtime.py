"""The one forward path used by tuning, evaluation and serving: prefix KV + message, batched.

Every prompting mode is a key/value prefix (a deep table's keys and values, and/or the cached
states of input-layer virtual tokens and fixed instruction text) followed by the turn's tokens.
Rows of a batch may carry different prefixes: each is left-padded and masked, and position ids
are explicit, so a batch gives the same tokens as one row at a time.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from transformers import DynamicCache
from transformers.utils.output_capturing import maybe_install_capturing_hooks

from bot.model.base import BaseModel
from bot.model.passes import CPU_LAYER_COST
from bot.model.tables import Table, TableKind

__all__ = ["PrefixKV", "Runtime", "set_threads", "thread_count"]


def set_threads(count: int) -> None:
    """torch's intra-op threads for this process (benchmarks pin each measured system's process)."""
    torch.set_num_threads(count)


def thread_count() -> int:
    return torch.get_num_threads()


@dataclass
class PrefixKV:
    """Per-layer keys/values `[1, kv_heads, P, head_dim]` and the next position id."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    next_position: int

    @property
    def length(self) -> int:
        return self.keys[0].shape[2]


class Runtime:
    """Forward passes over a frozen base model with per-row prefixes (no peft at run time)."""

    def __init__(self, base: BaseModel) -> None:
        self.base = base
        self.model = base.model
        config = self.model.config
        self.layers = config.num_hidden_layers
        self.kv_heads = getattr(config, "num_key_value_heads", config.num_attention_heads)
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.device = next(self.model.parameters()).device
        self.dtype = next(self.model.parameters()).dtype
        self.embed = self.model.get_input_embeddings()
        self.decoder = self.model.get_decoder()
        self.lm_head = self.model.get_output_embeddings()
        self.norm = self.decoder.norm  # the final norm: read-out heads see every layer through it
        self.width = config.hidden_size
        self._views: dict[int, torch.nn.Module] = {}
        self.pad_id = base.tokenizer.pad_token_id
        # what running a layer at all costs, in token rows, when a mixed batch is cut into passes
        # (`plan_passes`): measured on the CPU; on a GPU extra rows are nearly free, so one pass
        self.layer_cost = CPU_LAYER_COST if self.device.type == "cpu" else math.inf

    # --- prefixes -------------------------------------------------------------------------
    def empty_prefix(self) -> PrefixKV:
        shape = (1, self.kv_heads, 0, self.head_dim)
        empty = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in range(self.layers)]
        return PrefixKV(keys=empty, values=list(empty), next_position=0)

    def table_prefix(self, weights: torch.Tensor) -> PrefixKV:
        """A deep table as keys/values (differentiable): row i = token i at every layer."""
        n = weights.shape[0]
        per_layer = weights.to(self.dtype).view(n, self.layers * 2, self.kv_heads, self.head_dim).permute(1, 2, 0, 3)
        keys = [per_layer[2 * i].unsqueeze(0) for i in range(self.layers)]
        values = [per_layer[2 * i + 1].unsqueeze(0) for i in range(self.layers)]
        # text follows the virtual tokens, as it followed the text a deep table may be initialised from
        return PrefixKV(keys=keys, values=values, next_position=n)

    def prefix(self, table: Table | torch.Tensor | None, text_ids: list[int], *,
               kind: TableKind | None = None) -> PrefixKV:
        """Keys/values of [table][fixed text]; computed once per skill and reused for every turn."""
        weights = table.weights if isinstance(table, Table) else table
        kind = table.kind if isinstance(table, Table) else kind
        start = self.table_prefix(weights) if kind == TableKind.deep else self.empty_prefix()
        parts = [weights.unsqueeze(0).to(self.dtype)] if kind == TableKind.input else []
        if text_ids:
            parts.append(self.embed(torch.tensor([text_ids], device=self.device)))
        if not parts:
            return start
        embeds = torch.cat(parts, dim=1)
        mask = torch.ones(1, start.length + embeds.shape[1], dtype=torch.long, device=self.device)
        positions = start.next_position + torch.arange(embeds.shape[1], device=self.device).unsqueeze(0)
        cache = self._cache([start.keys], [start.values], None)
        self.decoder(inputs_embeds=embeds, attention_mask=mask, position_ids=positions,
                     past_key_values=cache, use_cache=True)
        keys = [layer.keys for layer in cache.layers]
        values = [layer.values for layer in cache.layers]
        return PrefixKV(keys=keys, values=values, next_position=int(positions[0, -1]) + 1)

    # --- batched forward ------------------------------------------------------------------
    def forward(self, prefixes: list[PrefixKV], rows: list[list[int]]) -> tuple[torch.Tensor, DynamicCache, torch.Tensor, torch.Tensor]:
        """Run each row's tokens after its own prefix. Returns hidden states `[B, L, h]` (rows
        left-padded to L), the cache, the attention mask and the last position id of each row."""
        ids, mask, positions, cache = self._inputs(prefixes, rows)
        out = self.decoder(input_ids=ids, attention_mask=mask, position_ids=positions,
                           past_key_values=cache, use_cache=True)
        return out.last_hidden_state, cache, mask, positions[:, -1]

    def layer_states(self, prefixes: list[PrefixKV], rows: list[list[int]], layers: set[int]) -> dict[int, torch.Tensor]:
        """The states `[B, L, h]` after each of `layers` (indices into the hidden states, 0 the
        embeddings), all through the final norm; rows left-padded to L. Layers above the deepest
        one read are never run: reading layer 20 of 30 costs two thirds of a full pass."""
        depth = max(layers)
        ids, mask, positions, cache = self._inputs(prefixes, rows)
        out = self._up_to(depth)(input_ids=ids, attention_mask=mask, position_ids=positions,
                                 past_key_values=cache, use_cache=True, output_hidden_states=True)
        states = out.hidden_states  # the last one has been through the final norm already
        return {layer: states[layer] if layer == depth else self.norm(states[layer]) for layer in layers}

    def _up_to(self, depth: int) -> torch.nn.Module:
        """The decoder with only its first `depth` layers (sharing their weights), built once."""
        if depth >= self.layers:
            return self.decoder
        if depth not in self._views:
            # transformers records hidden states with hooks on the layers, installed once per model
            # object and marked on it; the view shares the layers, so it must share that mark too
            # (else every view and every Runtime would hook the same layers again: doubled states)
            maybe_install_capturing_hooks(self.decoder)
            view = copy.copy(self.decoder)
            view._modules = dict(self.decoder._modules)  # our own module table: the original stays whole
            view.layers = torch.nn.ModuleList(list(self.decoder.layers)[:depth])
            view._output_capturing_hooks_installed = True
            self._views[depth] = view
        return self._views[depth]

    def resolve_layers(self, layers: list[int]) -> list[int]:
        """Indices into the `layers + 1` hidden states, negatives from the end, clamped to layers 1..L
        (a small test model has fewer layers than the default reads), duplicates dropped."""
        resolved = [min(self.layers, max(1, layer if layer >= 0 else self.layers + 1 + layer)) for layer in layers]
        return list(dict.fromkeys(resolved))

    def _inputs(self, prefixes: list[PrefixKV], rows: list[list[int]]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, DynamicCache]:
        """Left-padded ids, the mask over [prefix][row], explicit positions and the prefix cache."""
        longest_prefix = max(p.length for p in prefixes)
        longest_row = max(len(r) for r in rows)
        prefix_mask = torch.zeros(len(rows), longest_prefix, dtype=torch.long, device=self.device)
        row_mask = torch.zeros(len(rows), longest_row, dtype=torch.long, device=self.device)
        ids = torch.full((len(rows), longest_row), self.pad_id, dtype=torch.long, device=self.device)
        positions = torch.zeros(len(rows), longest_row, dtype=torch.long, device=self.device)
        for i, (prefix, row) in enumerate(zip(prefixes, rows)):
            prefix_mask[i, longest_prefix - prefix.length:] = 1
            row_mask[i, longest_row - len(row):] = 1
            ids[i, longest_row - len(row):] = torch.tensor(row, device=self.device)
            positions[i, longest_row - len(row):] = prefix.next_position + torch.arange(len(row))
        cache = self._cache([p.keys for p in prefixes], [p.values for p in prefixes], longest_prefix)
        return ids, torch.cat([prefix_mask, row_mask], dim=1), positions, cache

    def _cache(self, keys: list[list[torch.Tensor]], values: list[list[torch.Tensor]],
               length: int | None) -> DynamicCache:
        """A cache holding each row's prefix, left-padded with zeros to a common length."""
        length = max(k[0].shape[2] for k in keys) if length is None else length
        data = []
        for layer in range(self.layers):
            data.append((_left_pad_cat([k[layer] for k in keys], length),
                         _left_pad_cat([v[layer] for v in values], length)))
        return DynamicCache(data, config=self.model.config)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden)

    def step(self, tokens: torch.Tensor, cache: DynamicCache, mask: torch.Tensor, positions: torch.Tensor,
             chunk_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Append tokens to every row: `[B]` (one decode step) or `[B, K]` chunks, left-padded where
        `chunk_mask` is 0. One pass reads the weights once, whatever K is, and on this CPU that
        read is the cost. Returns each row's next-token logits `[B, V]` and the grown mask."""
        if tokens.dim() == 1:
            tokens, positions = tokens.unsqueeze(1), positions.unsqueeze(1)
        chunk_mask = torch.ones_like(tokens) if chunk_mask is None else chunk_mask
        mask = torch.cat([mask, chunk_mask.to(mask.dtype)], dim=1)
        out = self.decoder(input_ids=tokens, attention_mask=mask, position_ids=positions,
                           past_key_values=cache, use_cache=True)
        return self.lm_head(out.last_hidden_state[:, -1]), mask


def _left_pad_cat(tensors: list[torch.Tensor], length: int) -> torch.Tensor:
    """Stack `[1, H, P_i, d]` tensors into `[B, H, length, d]`, zeros on the left."""
    if all(t.shape[2] == length for t in tensors) and all(t is tensors[0] for t in tensors):
        return tensors[0].expand(len(tensors), -1, -1, -1).contiguous()
    padded = [torch.nn.functional.pad(t, (0, 0, length - t.shape[2], 0)) for t in tensors]
    return torch.cat(padded, dim=0)
