"""A p-tuning run: learn one skill's virtual-token table on the frozen model, keep the best on dev.

peft builds the trainable encoder and saves the table in its adapter format; the forward pass is
the project's own runtime, the same one evaluation and serving use, so what is tuned is served.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import torch
from peft import (PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig,
                  PromptTuningInit, TaskType, get_peft_model)
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bot.errors import DataError
from bot.config import PromptMode, SkillConfig, TableMethod, TuningConfig
from bot.model.base import BaseModel
from bot.model.decoding import FRAME_FORMAT, FrameCodec
from bot.model.reader import FrameReader
from bot.model.runtime import Runtime
from bot.model.tables import MANIFEST, Table, TableKind
from bot.skills.prompts import prompt_prefix, turn_text
from bot.tuning.metrics import score
from bot.types import Example

__all__ = ["TuningResult", "data_hash", "split_dev", "tune_table"]

DEV_CAP = 120  # dev examples read at each check: enough to rank checkpoints, cheap on a CPU


@dataclass
class TuningResult:
    table: Table
    steps: int
    seconds: float
    dev_frame_accuracy: float
    dev_intent_accuracy: float
    dev_slot_f1: float
    losses: list[float] = field(default_factory=list)


def data_hash(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(example.model_dump_json().encode())
    return digest.hexdigest()[:16]


def split_dev(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded train/dev split of the skill's examples for early stopping."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    count = min(DEV_CAP, max(1, int(len(shuffled) * fraction))) if fraction > 0 and len(shuffled) > 1 else 0
    return shuffled[count:], shuffled[:count]


def _peft_config(settings: TuningConfig, skill: SkillConfig, model_dir: str) -> object:
    common = dict(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=settings.virtual_tokens)
    if settings.method == TableMethod.deep_prompt:
        return PrefixTuningConfig(prefix_projection=False, **common)
    if settings.method == TableMethod.p_tuning:
        return PromptEncoderConfig(encoder_hidden_size=256, **common)
    return PromptTuningConfig(prompt_tuning_init=PromptTuningInit.TEXT, tokenizer_name_or_path=model_dir,
                              prompt_tuning_init_text=prompt_prefix(skill, PromptMode.zero_shot, []), **common)


class _Tuner:
    """Holds the peft wrapper and turns its encoder's output into this runtime's table.

    The frozen model runs its training passes from a bfloat16 copy: casting fp32 weights on every
    step (autocast) took a sixth of a step on CPU. Dev checks read through the model as served.
    """

    def __init__(self, base: BaseModel, skill: SkillConfig, settings: TuningConfig, model_dir: str) -> None:
        torch.manual_seed(settings.seed)
        self.base, self.settings = base, settings
        self.runtime = Runtime(base)
        self.train_runtime = Runtime(replace(base, model=_frozen_copy(base.model, torch.bfloat16)))
        self.codec = FrameCodec.for_skill(base.tokenizer, skill)
        self.peft = get_peft_model(base.model, _peft_config(settings, skill, model_dir))
        self.encoder = self.peft.prompt_encoder["default"]
        self.indices = self.peft.prompt_tokens["default"][: settings.virtual_tokens].to(self.runtime.device)
        self.kind = TableKind.deep if settings.method == TableMethod.deep_prompt else TableKind.input
        if self.kind == TableKind.deep:
            self._init_deep_from_text(prompt_prefix(skill, PromptMode.zero_shot, []))

    def _init_deep_from_text(self, text: str) -> None:
        """Start the deep prompt at the keys/values the model itself gives the skill's description."""
        ids = self.base.tokenizer.encode(text, add_special_tokens=False)
        ids = (ids * self.settings.virtual_tokens)[: self.settings.virtual_tokens]
        with torch.no_grad():
            prefix = self.runtime.prefix(None, ids)
            stacked = torch.stack([t for pair in zip(prefix.keys, prefix.values) for t in pair])  # [2L,1,H,n,d]
            flat = stacked[:, 0].permute(2, 0, 1, 3).reshape(len(ids), -1)
            self.encoder.embedding.weight.copy_(flat)

    def weights(self) -> torch.Tensor:
        return self.encoder(self.indices)  # [n, width]; through the MLP for p-tuning

    def loss(self, batch: Sequence["_Pair"]) -> torch.Tensor:
        """Cross-entropy on the answer tokens only, each normalised over the tokens the constrained
        decoder allows there (as decoding is); forced tokens teach nothing and are skipped."""
        prefix = self.train_runtime.prefix(self.weights(), [], kind=self.kind)
        hidden, _, _, _ = self.train_runtime.forward([prefix] * len(batch), [p.turn + p.target for p in batch])
        width = hidden.shape[1]
        rows, columns, labels, options = [], [], [], []
        for i, pair in enumerate(batch):
            start = width - len(pair.target) - 1  # the position before each target token predicts it
            for j, (token, allowed) in enumerate(zip(pair.target, pair.options)):
                if len(allowed) > 1:
                    rows.append(i), columns.append(start + j), labels.append(token), options.append(allowed)
        if not labels:
            return hidden.sum() * 0.0
        vocabulary = sorted(set().union(*options))
        place = {token: n for n, token in enumerate(vocabulary)}
        weight = self.train_runtime.lm_head.weight[vocabulary].float()
        logits = hidden[rows, columns].float() @ weight.T
        blocked = torch.full_like(logits, float("-inf"))
        for n, allowed in enumerate(options):
            blocked[n, [place[t] for t in allowed]] = 0.0
        target = torch.tensor([place[t] for t in labels], device=logits.device)
        return torch.nn.functional.cross_entropy(logits + blocked, target)

    def snapshot(self, version: str) -> Table:
        with torch.no_grad():
            return Table(weights=self.weights().detach().clone(), kind=self.kind,
                         fingerprint=self.base.fingerprint, version=version)


def tune_table(base: BaseModel, skill: SkillConfig, examples: Sequence[Example], *, model_dir: str,
               out_dir: Path, settings: TuningConfig | None = None, progress: bool = True) -> TuningResult:
    """Tune, keep the checkpoint with the best dev frame accuracy, save table + manifest."""
    settings = settings or skill.tuning
    if not examples:
        raise DataError(out_dir.parent / "examples.jsonl", "no examples to tune on",
                        fix="add labelled examples (one JSON object a line) or pass --data")
    train, dev = split_dev(examples, settings.dev_fraction, settings.seed)
    tuner = _Tuner(base, skill, settings, model_dir)
    pairs = [_Pair(e, base.tokenizer.encode(turn_text(e.text, PromptMode.tuned), add_special_tokens=False),
                   tuner.codec) for e in train]
    result = _train(tuner, skill, pairs, dev, settings, progress)
    _save(tuner, result, out_dir, base, settings, data_hash(examples))
    return result


class _Pair:
    """One training example as token ids; the decoder's allowed sets are worked out on first use."""

    def __init__(self, example: Example, turn: list[int], codec: FrameCodec) -> None:
        self.example, self.turn, self.codec = example, turn, codec
        self.target = codec.encode(example.intent, example.slots, example.text)
        self._options: list[list[int]] | None = None

    @property
    def options(self) -> list[list[int]]:
        if self._options is None:
            found = self.codec.choices(self.example.text, self.target)
            # a target the decoder cannot produce (a value longer than MAX_SPAN_WORDS words, values
            # out of reading order) would teach what can never be decoded: all forced, no loss
            self._options = found or [[token] for token in self.target]
        return self._options

    def __len__(self) -> int:
        return len(self.turn) + len(self.target)


def _frozen_copy(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A copy of the frozen model in `dtype` (the original stays as loaded, for serving)."""
    twin = copy.deepcopy(model).to(dtype)
    twin.requires_grad_(False)
    return twin


def _batches(pairs: list, size: int, seed: int):
    """Endless shuffled batches of similar length: less padding, so more steps per minute."""
    rng = random.Random(seed)
    while True:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), size * 8):
            chunk = sorted(order[start:start + size * 8], key=lambda i: len(pairs[i]))
            batches += [chunk[i:i + size] for i in range(0, len(chunk) - size + 1, size)]
        rng.shuffle(batches)
        for batch in batches:
            yield [pairs[i] for i in batch]


def _train(tuner: _Tuner, skill: SkillConfig, pairs: list, dev: list[Example], settings: TuningConfig,
           progress: bool) -> TuningResult:
    optimiser = torch.optim.AdamW(tuner.encoder.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    began, losses = time.perf_counter(), []
    best: tuple[float, Table, object] | None = None
    stale, step = 0, 0
    deadline = began + settings.max_minutes * 60
    with _progress(progress) as bar:
        task = bar.add_task(f"tuning {skill.name}", total=settings.steps, loss=float("nan"), dev="-")
        for step, batch in enumerate(_batches(pairs, min(settings.batch_size, len(pairs)), settings.seed), 1):
            loss = tuner.loss(batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            bar.update(task, advance=1, loss=sum(losses[-10:]) / len(losses[-10:]))
            last = step >= settings.steps or time.perf_counter() > deadline
            if dev and (step % settings.eval_every == 0 or last):
                scores = _dev_scores(tuner, skill, dev, f"step{step}")
                bar.update(task, dev=f"frame {scores[0]:.1%}")
                if best is None or scores[0] > best[0]:
                    best, stale = (scores[0], tuner.snapshot(f"step{step}"), scores), 0
                    _remember(tuner)
                else:
                    stale += 1
            if last or stale >= settings.patience:
                break
    if best is None:
        best = (float("nan"), tuner.snapshot(f"step{step}"), (float("nan"),) * 3)
        _remember(tuner)
    _restore(tuner)
    frame, intent, slot_f1 = best[2]
    return TuningResult(table=best[1], steps=step, seconds=time.perf_counter() - began,
                        dev_frame_accuracy=frame, dev_intent_accuracy=intent, dev_slot_f1=slot_f1, losses=losses)


def _remember(tuner: _Tuner) -> None:
    tuner.best_state = {k: v.detach().clone() for k, v in tuner.encoder.state_dict().items()}


def _restore(tuner: _Tuner) -> None:
    tuner.encoder.load_state_dict(tuner.best_state)


def _dev_scores(tuner: _Tuner, skill: SkillConfig, dev: list[Example], version: str) -> tuple[float, float, float]:
    reader = FrameReader(tuner.runtime, skill, PromptMode.tuned, table=tuner.snapshot(version))
    frames = [r.frame for r in reader.read([e.text for e in dev], batch_size=32)]
    scores = score(dev, frames)
    return scores.frame_accuracy, scores.intent_accuracy, scores.slot_f1


def _progress(enabled: bool) -> Progress:
    """Loss, dev score and ETA on stderr, so stdout stays machine-readable."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("dev {task.fields[dev]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    return Progress(*columns, console=Console(stderr=True), disable=not enabled)


def _save(tuner: _Tuner, result: TuningResult, out_dir: Path, base: BaseModel, settings: TuningConfig,
          hashed: str) -> None:
    """peft adapter files (the encoder is dropped: only the table is stored) plus our manifest."""
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".partial")
    tuner.peft.save_pretrained(staging)
    manifest = {
        "base_model": base.name, "base_fingerprint": base.fingerprint, "method": settings.method.value,
        "kind": tuner.kind.value, "virtual_tokens": settings.virtual_tokens, "frame_format": FRAME_FORMAT,
        "data_hash": hashed,
        "steps": result.steps, "tuning_seconds": round(result.seconds, 1),
        "dev": {"frame_accuracy": result.dev_frame_accuracy, "intent_accuracy": result.dev_intent_accuracy,
                "slot_f1": result.dev_slot_f1},
        "settings": settings.model_dump(mode="json"), "created": datetime.now(timezone.utc).isoformat(),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)  # an interrupted run never leaves a half-written table behind
