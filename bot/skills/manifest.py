"""`table/manifest.json`: what a tuned table is, what it reads, and how well it read dev.

Written by `bot tune`, read by the model room before it trusts a table and by `bot skills`.
A table says which base model it belongs to (fingerprint), which reader it feeds and the exact
label sets its heads were trained on: a table of another kind or label set is refused with the fix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import ConfigError
from bot.types import Example

__all__ = ["MANIFEST", "DevFigures", "Manifest", "ReaderKind", "ReadoutSpec", "data_hash", "read_manifest",
           "stale_warning", "write_manifest"]

MANIFEST = "manifest.json"
RETUNE = "re-tune the skill with `bot tune <skill folder>`"


class ReaderKind(str, Enum):
    """How a tuned table is read: `readout` = deep prompt + heads over token states, one pass."""

    readout = "readout"


class ReadoutSpec(BaseModel):
    """The read-out heads' contract: which states they read and which labels they emit."""

    model_config = ConfigDict(extra="forbid")

    intents: list[str]
    tags: list[str]  # "O", "B-slot", "I-slot", ...
    layers: list[int]  # indices into the model's hidden states (0 = embeddings, -1 = last layer)
    echo: bool = False  # the turn is given twice and the second copy is read
    word: str = Field(default="first", pattern="^(first|mean)$")  # a word's state: its first token's, or its tokens' mean
    context: int = 128  # width of the small bidirectional GRU that gives each word its right context (0: none)
    pool: str = Field(default="last", pattern="^(mean|last|last\\+mean)$")  # what the intent head reads
    temperature: float = Field(default=1.0, gt=0)  # intent logits / T, fitted on dev


class DevFigures(BaseModel):
    """Held-out scores at the kept checkpoint; `frame_low`/`frame_high` a 90 % interval."""

    model_config = ConfigDict(extra="allow")

    n: int = 0
    frame_accuracy: float | None = None
    intent_accuracy: float | None = None
    slot_f1: float | None = None
    frame_low: float | None = None
    frame_high: float | None = None
    estimate: str = "dev split"  # or "k-fold" for small skills
    warning: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_model: str
    base_fingerprint: str
    reader: ReaderKind
    method: str
    kind: str  # "deep" (per-layer keys/values) or "input" (input-layer embeddings)
    virtual_tokens: int
    readout: ReadoutSpec
    data_hash: str
    steps: int
    warm_examples: int = 0  # examples whose states the heads were first fitted on
    tuning_seconds: float
    dev: DevFigures = Field(default_factory=DevFigures)
    settings: dict = Field(default_factory=dict)
    created: str = ""


def read_manifest(directory: Path) -> Manifest:
    """The manifest of a table folder; a missing, corrupt or old one is one clear error."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ConfigError(path, "no tuned table here", fix="run `bot tune` on the skill first")
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(path, f"manifest is not valid JSON ({err})", fix=RETUNE) from None
    if not isinstance(raw, dict):
        raise ConfigError(path, "manifest is not a JSON object", fix=RETUNE)
    if "reader" not in raw:
        raise ConfigError(path, "table was tuned for the generative reader, which tuned skills no longer use",
                          field="reader", fix=RETUNE)
    try:
        return Manifest.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise ConfigError(path, first["msg"], field=".".join(str(p) for p in first["loc"]), fix=RETUNE) from None


def write_manifest(directory: Path, manifest: Manifest) -> None:
    (Path(directory) / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")


def data_hash(examples: Sequence[Example]) -> str:
    """A short hash of the examples a table was tuned on (recorded in its manifest)."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(example.model_dump_json().encode())
    return digest.hexdigest()[:16]


def stale_warning(table_dir: Path, examples: Sequence[Example]) -> str | None:
    """What to tell the user when the examples changed after the table was tuned (else None)."""
    manifest = read_manifest(table_dir)
    if manifest.data_hash == data_hash(examples):
        return None
    return (f"{table_dir}: the examples changed after this table was tuned ({manifest.created[:19] or 'unknown'}); "
            "it still reads the old ones\n  fix: re-tune with `bot tune " + str(Path(table_dir).parent) + "`")
