"""What one `bot bench compare` run does: the data, the systems, the budgets, the BERT recipe.

Plain pydantic settings (no torch here), so the command line, the child processes that run each
system and the report all read one validated object.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.config import PromptMode
from bot.errors import ConfigError

__all__ = ["BertSettings", "BenchSettings", "QUICK", "System"]


class System(str, Enum):
    """A system the benchmark trains and measures: the BERT ensemble, or the LLM in one mode."""

    bert = "bert"
    zero_shot = "zero_shot"
    few_shot = "few_shot"
    chain_of_thought = "chain_of_thought"
    tuned = "tuned"

    @property
    def mode(self) -> PromptMode | None:
        """The LLM prompting mode this system runs (None for the BERT ensemble)."""
        return None if self is System.bert else PromptMode(self.value)

    @property
    def prompted(self) -> bool:
        """Untuned LLM modes: seconds per turn on a CPU, so they read a smaller seeded sample."""
        return self in (System.zero_shot, System.few_shot, System.chain_of_thought)


DEFAULT_SYSTEMS = [System.bert, System.zero_shot, System.few_shot, System.tuned]


class BertSettings(BaseModel):
    """The baseline's recipe, fixed a priori (common practice for small BERTs; never tuned on eval).

    AdamW (weight decay on all but biases and LayerNorm), linear warm-up over the first 10 % of
    steps then linear decay, batch 32, gradient clipping at 1.0, sub-words cut at 64. Epochs: enough
    to see about 30,000 examples, at least 3 and at most 10 (3 on full SNIPS, 10 on 1,000 examples).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(default=1e-4, gt=0)
    batch_size: int = Field(default=32, ge=1)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_fraction: float = Field(default=0.1, ge=0, lt=1)
    max_length: int = Field(default=64, ge=8)
    examples_seen: int = Field(default=30_000, ge=1)
    min_epochs: int = Field(default=3, ge=1)
    max_epochs: int = Field(default=10, ge=1)
    epochs: int | None = Field(default=None, ge=1)  # overrides the rule above
    max_steps: int | None = Field(default=None, ge=1)  # cap on optimiser steps per model
    seed: int = 0

    def epochs_for(self, n_train: int) -> int:
        if self.epochs is not None:
            return self.epochs
        wanted = math.ceil(self.examples_seen / max(n_train, 1))
        return max(self.min_epochs, min(self.max_epochs, wanted))

    def steps_for(self, n_train: int) -> int:
        """Optimiser steps per model: epochs x batches per epoch, capped by `max_steps`."""
        steps = self.epochs_for(n_train) * math.ceil(n_train / self.batch_size)
        return min(steps, self.max_steps) if self.max_steps else steps


class BenchSettings(BaseModel):
    """One comparison run. Eval data absent: a seeded `dev_fraction` of --data is held out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path
    split: str | None = None
    eval_data: Path | None = None
    eval_split: str | None = None
    dev_fraction: float = Field(default=0.1, gt=0, lt=1)
    seed: int = 0
    max_train: int | None = Field(default=None, ge=1)
    max_eval: int | None = Field(default=None, ge=1)
    prompted_eval: int = Field(default=100, ge=1)  # seeded sample for zero-/few-shot/CoT
    max_steps: int | None = Field(default=None, ge=1)  # LLM tuning steps; also caps BERT steps
    minutes: float | None = Field(default=None, gt=0)  # LLM tuning time cap
    systems: list[System] = Field(default_factory=lambda: list(DEFAULT_SYSTEMS), min_length=1)
    model: str = "default"  # the LLM: 'default', a HF id or a folder
    encoder: Path | None = None  # the BERT encoder folder; None: the embedded all-MiniLM-L6-v2
    threads: int | None = Field(default=None, ge=1)  # torch threads in each system's process
    bert: BertSettings = Field(default_factory=BertSettings)

    @classmethod
    def from_options(cls, *, quick: bool = False, systems: str | None = None, **options: object) -> BenchSettings:
        """Settings from command-line options: `None` means not given; --quick fills in the rest."""
        given = {k: v for k, v in options.items() if v is not None}
        if systems is not None:
            given["systems"] = [name.strip() for name in systems.split(",") if name.strip()]
        try:
            return cls.model_validate({**(QUICK if quick else {}), **given})
        except ValidationError as err:
            first = err.errors()[0]
            option = "--" + str(first["loc"][0]).replace("_", "-")
            raise ConfigError("command line", first["msg"], field=option,
                              fix=f"see `bot bench compare --help` (systems: {', '.join(s.value for s in System)})"
                              ) from None

    def bert_settings(self) -> BertSettings:
        """The BERT recipe with --max-steps applied as its per-model step cap."""
        if self.max_steps is None or self.bert.max_steps is not None:
            return self.bert
        return self.bert.model_copy(update={"max_steps": self.max_steps})


QUICK = {"max_train": 200, "max_eval": 24, "prompted_eval": 4, "max_steps": 12, "minutes": 2.0}
"""`--quick`: small slices and few steps, a smoke test that finishes in minutes on real models.
Options given explicitly win over these."""
