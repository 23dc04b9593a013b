"""A skill's virtual-token table: the only thing tuning learns, saved in peft's adapter format.

The table is the `[n_virtual, width]` matrix peft stores as `prompt_embeddings`. Its width says
what it is: the model's hidden size for input-layer tokens (prompt / p-tuning), or
`layers * 2 * kv_dim` for deep prompts (prefix tuning), where row i holds token i's key and value
at every layer in peft's order: [layer0 key, layer0 value, layer1 key, ...].
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import torch
from safetensors.torch import load_file

from bot.errors import ConfigError, TableMismatchError
from bot.model.decoding import FRAME_FORMAT

__all__ = ["MANIFEST", "Table", "TableKind", "load_table", "read_manifest"]

MANIFEST = "manifest.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class TableKind(str, Enum):
    input = "input"
    deep = "deep"


@dataclass
class Table:
    """Virtual-token weights of one skill, with the base-model fingerprint they belong to."""

    weights: torch.Tensor  # [n_virtual, width]
    kind: TableKind
    fingerprint: str
    version: str = ""  # changes whenever the weights do, so caches of their prefix refresh

    @property
    def n_virtual(self) -> int:
        return self.weights.shape[0]


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ConfigError(path, "no tuned table here", fix="run `bot tune` on the skill first")
    return json.loads(path.read_text(encoding="utf-8"))


def load_table(directory: Path, *, fingerprint: str, hidden_size: int) -> Table:
    """Load a saved table; refuse one trained on other weights than the loaded model's."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest.get("base_fingerprint") != fingerprint:
        raise TableMismatchError(
            f"{directory}: table was tuned on base model {manifest.get('base_model')!r} "
            f"(fingerprint {manifest.get('base_fingerprint')}), but the loaded model's fingerprint "
            f"is {fingerprint}\n  fix: load that model, or re-tune the skill with `bot tune`"
        )
    if manifest.get("frame_format") != FRAME_FORMAT:
        raise TableMismatchError(
            f"{directory}: table was tuned to write frames as {manifest.get('frame_format', 'slot-first/0')!r}, "
            f"but this version reads {FRAME_FORMAT!r}\n  fix: re-tune the skill with `bot tune`")
    weights_path = directory / ADAPTER_WEIGHTS
    if not weights_path.is_file():
        raise ConfigError(weights_path, "table weights missing", fix="re-run `bot tune` on the skill")
    weights = next(iter(load_file(str(weights_path)).values())).float()
    guessed = TableKind.input if weights.shape[1] == hidden_size else TableKind.deep
    kind = TableKind(manifest.get("kind", guessed))
    return Table(weights=weights, kind=kind, fingerprint=fingerprint, version=manifest.get("data_hash", "") +
                 str(manifest.get("created", "")))
