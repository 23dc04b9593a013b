"""Train one skill's deep prompt and read-out heads on the frozen model: one forward pass a batch.

Every example teaches at every word (a tag) and once more at its last token (the intent), so a
step is worth far more than one whose loss sits on a few generated tokens. peft builds the
trainable prompt encoder and saves the table in its adapter format; the forward pass is the
project's own runtime, the one evaluation and serving use. The frozen model's training passes run
in the fastest type the hardware has (bfloat16 on CUDA or a CPU with bf16 units, float32 on an
AVX2-only CPU, where bf16 is emulated): through the model as loaded when it has that type (the
default, `dtype: auto`), else through a copy; dev checks read through the model as loaded, as
serving will. Before the joint tuning, the heads are fitted alone on cached states
(`warm_start`): on a CPU a forward pass over the data costs minutes, and this spends it once.
"""

from __future__ import annotations

import copy
import math
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from peft import (PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig, PromptTuningInit, TaskType,
                  get_peft_model)

from bot.config import PromptMode, SkillConfig, TableMethod, TuningConfig
from bot.model.base import BaseModel, fast_dtype
from bot.model.readout import (ReadoutHeads, TurnLayout, fit_temperature, layout_turn, pooled_states, stacked_features,
                               turn_mask, word_states)
from bot.model.runtime import Runtime
from bot.model.tables import ADAPTER_WEIGHTS, Table, TableKind
from bot.model.tagging import tag_names, word_tags
from bot.model.tuned_reader import TunedReader, turn_scores
from bot.skills.manifest import ReadoutSpec
from bot.skills.prompts import intent_words, prompt_prefix
from bot.types import Example

__all__ = ["ReadoutTrainer", "TrainingItem", "calibrated", "length_sorted_chunks", "with_temperature"]

WARM_EPOCHS = 40  # passes of the heads over the cached states, at most ...
WARM_STEPS = 4000  # ... and optimiser steps (10 epochs of SNIPS: 2,000 stopped short of its best)
WARM_BATCH = 32


@dataclass(frozen=True)
class TrainingItem:
    layout: TurnLayout
    intent: int
    tags: list[int]  # one per word of the layout

    def __len__(self) -> int:
        return len(self.layout.ids)


class ReadoutTrainer:
    """Holds the trainable prompt (through peft) and heads, and steps them on batches."""

    def __init__(self, base: BaseModel, skill: SkillConfig, settings: TuningConfig, model_dir: str) -> None:
        torch.manual_seed(settings.seed)
        self.base, self.skill, self.settings = base, skill, settings
        self.runtime = Runtime(base)
        fast = fast_dtype(self.runtime.device)
        self.train_runtime = self.runtime if self.runtime.dtype == fast else Runtime(
            replace(base, model=_frozen_copy(base.model, fast)))
        with warnings.catch_warnings():  # peft asks transformers a deprecated question: noise on stderr
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            self.peft = get_peft_model(base.model, _peft_config(settings, skill, model_dir))
        self.encoder = self.peft.prompt_encoder["default"]
        self.indices = self.peft.prompt_tokens["default"][: settings.virtual_tokens].to(self.runtime.device)
        self.kind = TableKind.deep if settings.method == TableMethod.deep_prompt else TableKind.input
        if self.kind == TableKind.deep:
            self._init_deep_from_text(prompt_prefix(skill, PromptMode.zero_shot, []))
        self.spec = ReadoutSpec(intents=skill.intent_names, tags=tag_names(skill.slot_names),
                                layers=self.runtime.resolve_layers(settings.read_layers), echo=_echo(settings, skill),
                                word=settings.word.value, context=settings.context, pool=settings.pool.value)
        self.heads = self._fresh_heads()
        # the prompt's steps leave the heads as the warm start fitted them: moving both at once
        # undid the fit (SNIPS 1,000: 71.7 % dev frames after the warm start, 69.6-70.9 % over 400
        # steps with the heads at 3e-3, 71.7-73.0 % with them held); without a warm start the heads learn here
        groups = [{"params": list(self.encoder.parameters()), "lr": settings.learning_rate}]
        if not settings.warm_start:
            groups.append({"params": list(self.heads.parameters()), "lr": settings.head_learning_rate})
        self.optimiser = torch.optim.AdamW(groups, weight_decay=0.0)
        self._best: dict | None = None
        self._cached: list[tuple] = []  # (pooled states, word states, item) from the warm start
        self._cached_under: torch.Tensor | None = None  # the prompt those states were read under
        self.seconds_per_cached, self.fit_seconds = 0.0, 0.0  # what the warm start took, to plan a refit

    def _init_deep_from_text(self, text: str) -> None:
        """Start the deep prompt at the keys/values the model itself gives the skill's description."""
        ids = self.base.tokenizer.encode(text, add_special_tokens=False)
        ids = (ids * self.settings.virtual_tokens)[: self.settings.virtual_tokens]
        with torch.no_grad():
            prefix = self.runtime.prefix(None, ids)
            stacked = torch.stack([t for pair in zip(prefix.keys, prefix.values) for t in pair])  # [2L,1,H,n,d]
            flat = stacked[:, 0].permute(2, 0, 1, 3).reshape(len(ids), -1)
            self.encoder.embedding.weight.copy_(flat)

    def items(self, examples: Sequence[Example]) -> list[TrainingItem]:
        """Examples as token layouts with their intent and per-word tag labels."""
        spec, tokenizer = self.spec, self.base.tokenizer
        return [TrainingItem(layout=(layout := layout_turn(tokenizer, e.text, echo=spec.echo)),
                             intent=spec.intents.index(e.intent),
                             tags=word_tags(e.text, e.slots, spec.tags)[: len(layout.positions)])
                for e in examples]

    def warm_start(self, items: Sequence[TrainingItem], *, cache_until: float, train_until: float,
                   on_cached: Callable[[int], None] | None = None) -> int:
        """Fit the heads alone on states cached under the starting prompt: one forward pass per
        example and no backward, then cheap epochs over the cache (a linear probe before the joint
        tuning, as LP-FT does). Stops caching at `cache_until` and training at `train_until`
        (`time.monotonic()` deadlines); `on_cached(n)` reports progress. Returns how many were cached."""
        began = time.monotonic()
        self._cached = self._cache_features(items, cache_until, on_cached or (lambda n: None))
        self._cached_under = self.weights().detach().clone()
        self.seconds_per_cached = (time.monotonic() - began) / max(1, len(self._cached))
        began = time.monotonic()
        if self._cached:
            self._fit_heads(self._cached, train_until)
        self.fit_seconds = time.monotonic() - began
        return len(self._cached)

    def refit(self, train: Sequence[TrainingItem], dev: Sequence[TrainingItem], *, until: float) -> bool:
        """Fit fresh heads by the warm start's recipe on every example, dev included, under the
        prompt as kept: once the checkpoint is chosen, the examples held out to choose it may teach
        too (a few-data skill gains most: SNIPS 1,000, 72.6 -> 74.3 % dev frames). The warm start's
        cached states serve while the prompt is still the one they were read under; else all are
        read again. Past `until` the heads stay as they were (a cut schedule leaves them
        half-trained). Returns whether the heads changed."""
        fresh = self._cached_under is not None and torch.equal(self.weights().detach(), self._cached_under)
        known, to_read = (self._cached, list(dev)) if fresh else ([], [*train, *dev])
        cached = known + self._cache_features(to_read, until, lambda n: None)
        if len(cached) < len(known) + len(to_read) or time.monotonic() >= until:
            return False
        kept = self.heads
        torch.manual_seed(self.settings.seed)
        self.heads = self._fresh_heads()
        if not self._fit_heads(cached, until):
            self.heads = kept
            return False
        return True

    def _fresh_heads(self) -> ReadoutHeads:
        """New heads, the intent head started at the intents' words read under the prompt as it is now."""
        heads = ReadoutHeads(self.spec, self.runtime.width, dropout=self.settings.word_dropout).to(self.runtime.device)
        heads.start_intents_at(self.intent_word_states())
        return heads

    def intent_word_states(self) -> torch.Tensor:
        """`[I, 2, F]`: each intent's words (`intent_words`) read as a turn, as `pooled_states` gives them."""
        items = [TrainingItem(layout=layout_turn(self.base.tokenizer, intent_words(self.skill, name), echo=self.spec.echo),
                              intent=k, tags=[]) for k, name in enumerate(self.spec.intents)]
        cached = self._cache_features(items, math.inf, lambda n: None)
        return torch.stack([pooled for pooled, _, _ in sorted(cached, key=lambda c: c[2].intent)]).to(self.runtime.device)

    def _fit_heads(self, cached: list[tuple], until: float) -> bool:
        """Epochs of the heads over cached states, the rate falling to zero along a cosine (the
        heads settle instead of wandering between checks); False when `until` cut it short."""
        heads_only = torch.optim.AdamW(self.heads.parameters(), lr=self.settings.head_learning_rate)
        planned = min(WARM_STEPS, WARM_EPOCHS * math.ceil(len(cached) / WARM_BATCH))
        schedule = torch.optim.lr_scheduler.LambdaLR(heads_only, lambda k: 0.5 * (1 + math.cos(math.pi * k / planned)))
        generator = torch.Generator().manual_seed(self.settings.seed)
        steps = 0
        while steps < planned:
            order = torch.randperm(len(cached), generator=generator).tolist()
            for start in range(0, len(order), WARM_BATCH):
                if steps >= planned:
                    break
                if time.monotonic() >= until:
                    return False
                loss = self._cached_loss([cached[i] for i in order[start:start + WARM_BATCH]])
                heads_only.zero_grad()
                loss.backward()
                heads_only.step()
                schedule.step()
                steps += 1
        return True

    @torch.no_grad()
    def _cache_features(self, items: Sequence[TrainingItem], until: float,
                        on_cached: Callable[[int], None]) -> list[tuple]:
        prefix = self.train_runtime.prefix(self.weights(), [], kind=self.kind)
        layers, cached = self.spec.layers, []
        for indices in length_sorted_chunks(items, 64, random.Random(self.settings.seed)):
            chunk = [items[i] for i in indices]
            states = self.train_runtime.layer_states([prefix] * len(chunk), [b.layout.ids for b in chunk], set(layers))
            features = stacked_features(states, layers)
            mask = turn_mask(features.shape[1], [b.layout for b in chunk]).to(features.device)
            pooled = pooled_states(features, mask)  # [B, 2, F]: what the intent head may read
            words = word_states(features, [b.layout for b in chunk], self.spec.word)
            per_row = words.split([len(b.layout.positions) for b in chunk])
            for i, item in enumerate(chunk):
                cached.append((pooled[i].clone(), per_row[i].clone(), item))
            on_cached(len(chunk))
            if time.monotonic() >= until:
                break
        return cached

    def _cached_loss(self, batch: list[tuple]) -> torch.Tensor:
        intents = torch.tensor([item.intent for _, _, item in batch])
        pooled = torch.stack([p for p, _, _ in batch])  # [B, 2, F]
        loss = self._cross_entropy(self.heads.pooled_intent_logits(pooled), intents)
        lengths = [len(item.tags) for _, _, item in batch]
        if sum(lengths):
            words = torch.cat([w for _, w, _ in batch])
            tags = torch.tensor([t for _, _, item in batch for t in item.tags])
            loss = loss + self._cross_entropy(self.heads.tag_logits(words, lengths), tags)
        return loss

    def _cross_entropy(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, labels, label_smoothing=self.settings.label_smoothing)

    def weights(self) -> torch.Tensor:
        return self.encoder(self.indices)  # [n, width]; through the MLP for p-tuning

    def loss(self, batch: Sequence[TrainingItem]) -> torch.Tensor:
        """Intent cross-entropy at the last token plus tag cross-entropy at every word, one pass."""
        prefix = self.train_runtime.prefix(self.weights(), [], kind=self.kind)
        layers = self.spec.layers
        states = self.train_runtime.layer_states([prefix] * len(batch), [b.layout.ids for b in batch], set(layers))
        features = stacked_features(states, layers)  # [B, L, F]
        device = features.device
        intents = torch.tensor([b.intent for b in batch], device=device)
        mask = turn_mask(features.shape[1], [b.layout for b in batch]).to(device)
        loss = self._cross_entropy(self.heads.intent_logits(features, mask), intents)
        lengths = [len(b.layout.positions) for b in batch]
        if sum(lengths):
            tags = torch.tensor([t for b in batch for t in b.tags], device=device)
            words = word_states(features, [b.layout for b in batch], self.spec.word)
            logits = self.heads.tag_logits(words, lengths)
            loss = loss + self._cross_entropy(logits, tags)
        return loss

    def step(self, batch: Sequence[TrainingItem]) -> float:
        """One step of the prompt on a batch (and of the heads, without a warm start); returns its loss."""
        loss = self.loss(batch)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        return loss.item()

    def snapshot(self, version: str) -> Table:
        """The table as it would be saved now (prompt and heads rounded to their stored 16 bits)."""
        with torch.no_grad():
            weights = self.weights().detach().to(torch.float16).float()
            return Table(weights=weights, kind=self.kind, fingerprint=self.base.fingerprint,
                         heads=self.heads.rounded(), version=version)

    def remember(self) -> None:
        self._best = {k: v.detach().clone() for k, v in self.encoder.state_dict().items()}

    def restore(self) -> None:
        if self._best is not None:
            self.encoder.load_state_dict(self._best)

    def save(self, directory: Path, table: Table) -> None:
        """peft's adapter files for the prompt (the encoder is dropped: only the table is stored)
        and the heads beside them; call `restore` first so the prompt matches `table`."""
        self.peft.save_pretrained(directory)
        _store_in_16_bits(Path(directory) / ADAPTER_WEIGHTS)
        table.heads.save(directory)


def length_sorted_chunks(items: Sequence, size: int, rng: random.Random, *, whole_only: bool = False) -> list[list[int]]:
    """Indices of `items` in chunks of similar length (little padding), the order shuffled by
    `rng` first, so a time cap that stops early still leaves a fair sample, not the shortest turns.
    `whole_only` drops each block's last chunk when it is short of `size`."""
    order = list(range(len(items)))
    rng.shuffle(order)
    chunks = []
    for start in range(0, len(order), size * 8):
        block = sorted(order[start:start + size * 8], key=lambda i: len(items[i]))
        stop = len(block) - size + 1 if whole_only else len(block)
        chunks += [block[i:i + size] for i in range(0, stop, size)]
    return chunks


def _store_in_16_bits(path: Path) -> None:
    """Rewrite peft's fp32 prompt as fp16 (same keys and metadata; peft casts it back on load):
    half the bytes, and a deep prompt of 16 tokens plus heads stays under a megabyte."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key).to(torch.float16).contiguous() for key in handle.keys()}
    save_file(tensors, str(path), metadata=metadata)


def calibrated(table: Table, runtime: Runtime, skill: SkillConfig, dev: Sequence[Example]) -> Table:
    """The table with its intent temperature fitted on held-out turns (least NLL; 1 with no dev)."""
    reader = TunedReader(runtime, skill, table)
    scored = [s for start in range(0, len(dev), 32)
              for s in turn_scores([(reader, e.text) for e in dev[start:start + 32]])]
    if not scored:
        return table
    logits = torch.stack([logits for logits, _, _ in scored])
    labels = torch.tensor([table.spec.intents.index(e.intent) for e in dev])
    return with_temperature(table, fit_temperature(logits, labels))


def with_temperature(table: Table, temperature: float) -> Table:
    """The table with its intent head read at `temperature` (a copy; the heads are shared otherwise)."""
    heads = copy.deepcopy(table.heads)
    heads.spec = table.spec.model_copy(update={"temperature": temperature})
    return replace(table, heads=heads)


def _peft_config(settings: TuningConfig, skill: SkillConfig, model_dir: str) -> object:
    common = dict(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=settings.virtual_tokens)
    if settings.method == TableMethod.deep_prompt:
        return PrefixTuningConfig(prefix_projection=False, **common)
    if settings.method == TableMethod.p_tuning:
        return PromptEncoderConfig(encoder_hidden_size=256, **common)
    return PromptTuningConfig(prompt_tuning_init=PromptTuningInit.TEXT, tokenizer_name_or_path=model_dir,
                              prompt_tuning_init_text=prompt_prefix(skill, PromptMode.zero_shot, []), **common)


def _echo(settings: TuningConfig, skill: SkillConfig) -> bool:
    """Echo as set, or (unset) where there are slots to tag: the tag head needs the right side."""
    return settings.echo if settings.echo is not None else bool(skill.slot_names)


def _frozen_copy(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A copy of the frozen model in `dtype` (the original stays as loaded, for serving)."""
    twin = copy.deepcopy(model).to(dtype)
    twin.requires_grad_(False)
    return twin
