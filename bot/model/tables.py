"""A tuned skill on disk: its deep prompt (peft's adapter format) and its read-out heads.

The prompt is the `[n_virtual, width]` matrix peft stores as `prompt_embeddings`, loadable with
`PeftModel.from_pretrained`. Its width says what it is: the model's hidden size for input-layer
tokens (prompt / p-tuning), or `layers * 2 * kv_dim` for deep prompts (prefix tuning), where row
i holds token i's key and value at every layer in peft's order: [layer0 key, layer0 value, ...].
The heads (`heads.safetensors`) read intent and tags from the states the prompt steers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from bot.config import SkillConfig
from bot.errors import ConfigError, TableMismatchError
from bot.model.readout import HEADS_FILE, ReadoutHeads
from bot.model.tagging import tag_names
from bot.skills.manifest import RETUNE, Manifest, ReadoutSpec, read_manifest

__all__ = ["ADAPTER_WEIGHTS", "Table", "TableKind", "check_labels", "load_table"]

ADAPTER_WEIGHTS = "adapter_model.safetensors"


class TableKind(str, Enum):
    input = "input"
    deep = "deep"


@dataclass
class Table:
    """A tuned skill's weights, with the base-model fingerprint they belong to."""

    weights: torch.Tensor  # [n_virtual, width]
    kind: TableKind
    fingerprint: str
    heads: ReadoutHeads
    version: str = ""  # changes whenever the weights do, so caches of their prefix refresh

    @property
    def spec(self) -> ReadoutSpec:
        return self.heads.spec

    @property
    def n_virtual(self) -> int:
        return self.weights.shape[0]


def check_labels(spec: ReadoutSpec, config: SkillConfig, where: Path) -> None:
    """Heads trained on other intents or slots than the skill now declares would misname them."""
    for what, trained, declared in (("intents", spec.intents, config.intent_names),
                                    ("slot tags", spec.tags, tag_names(config.slot_names))):
        if trained != declared:
            raise TableMismatchError(
                f"{where}: table was tuned for {what} {trained}, but skill.yaml declares {declared}"
                f"\n  fix: {RETUNE}")


def load_table(directory: Path, *, fingerprint: str, width: int, config: SkillConfig) -> Table:
    """Load a saved table; refuse one of another model, reader or label set, or a damaged one."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    _check_model(manifest, fingerprint, directory)
    check_labels(manifest.readout, config, directory)
    weights = _load_tensors(directory / ADAPTER_WEIGHTS)
    weights = next(iter(weights.values())).float()
    try:
        heads = ReadoutHeads.load(directory, manifest.readout, width)
    except (SafetensorError, RuntimeError, OSError) as err:
        raise ConfigError(directory / HEADS_FILE, f"read-out heads unreadable ({_first_line(err)})",
                          fix=RETUNE) from None
    return Table(weights=weights, kind=TableKind(manifest.kind), fingerprint=fingerprint, heads=heads,
                 version=manifest.data_hash + manifest.created)


def _check_model(manifest: Manifest, fingerprint: str, directory: Path) -> None:
    if manifest.base_fingerprint != fingerprint:
        raise TableMismatchError(
            f"{directory}: table was tuned on base model {manifest.base_model!r} "
            f"(fingerprint {manifest.base_fingerprint}), but the loaded model's fingerprint "
            f"is {fingerprint}\n  fix: load that model, or re-tune the skill with `bot tune`")


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ConfigError(path, "table weights missing", fix=RETUNE)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ConfigError(path, f"table weights unreadable ({_first_line(err)})", fix=RETUNE) from None
    if not tensors:
        raise ConfigError(path, "table weights file holds no tensor", fix=RETUNE)
    return tensors


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
