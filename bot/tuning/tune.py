"""A tuning run: learn one skill's deep prompt and read-out heads, keep the best on dev, save.

The model room does the passes (`ReadoutTrainer`); this module decides what to train on, when to
check dev, when to stop, and what the manifest says, so what is tuned is exactly what is served.
"""

from __future__ import annotations

import hashlib
import math
import random
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bot.config import SkillConfig, TuningConfig
from bot.errors import DataError
from bot.model.base import BaseModel
from bot.model.tables import Table
from bot.model.training import ReadoutTrainer, TrainingItem, calibrated
from bot.model.tuned_reader import TunedReader
from bot.skills.manifest import DevFigures, Manifest, ReaderKind, write_manifest
from bot.tuning.metrics import Scores, score
from bot.types import Example

__all__ = ["DEV_CAP", "TuningResult", "data_hash", "dev_figures", "split_dev", "tune_table"]

DEV_CAP = 300  # dev turns read at each check: one pass each, so a few seconds on a CPU
MIN_PER_INTENT = 5  # fewer dev turns of an intent than this: its figure cannot be trusted


@dataclass
class TuningResult:
    table: Table
    steps: int
    seconds: float
    dev: DevFigures
    losses: list[float] = field(default_factory=list)

    @property
    def dev_frame_accuracy(self) -> float | None:
        return self.dev.frame_accuracy


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


def tune_table(base: BaseModel, skill: SkillConfig, examples: Sequence[Example], *, model_dir: str,
               out_dir: Path, settings: TuningConfig | None = None, progress: bool = True) -> TuningResult:
    """Tune, keep the checkpoint with the best dev frame accuracy, calibrate, save table + manifest."""
    settings = settings or skill.tuning
    if not examples:
        raise DataError(Path(out_dir).parent / "examples.jsonl", "no examples to tune on",
                        fix="add labelled examples (one JSON object a line) or pass --data")
    train, dev = split_dev(examples, settings.dev_fraction, settings.seed)
    trainer = ReadoutTrainer(base, skill, settings, model_dir)
    began = time.perf_counter()
    table, steps, losses = _train(trainer, trainer.items(train), dev, settings, progress)
    table = calibrated(table, trainer.runtime, skill, dev)
    figures = dev_figures(dev, _read(trainer, skill, table, dev)) if dev else DevFigures()
    result = TuningResult(table=table, steps=steps, seconds=time.perf_counter() - began, dev=figures, losses=losses)
    _save(trainer, result, Path(out_dir), base, settings, data_hash(examples))
    return result


def _batches(items: list[TrainingItem], size: int, seed: int) -> Iterator[list[TrainingItem]]:
    """Endless shuffled batches of similar length: less padding, so more steps per minute."""
    rng = random.Random(seed)
    while True:
        order = list(range(len(items)))
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), size * 8):
            chunk = sorted(order[start:start + size * 8], key=lambda i: len(items[i]))
            batches += [chunk[i:i + size] for i in range(0, len(chunk) - size + 1, size)]
        rng.shuffle(batches)
        for batch in batches:
            yield [items[i] for i in batch]


def _train(trainer: ReadoutTrainer, items: list[TrainingItem], dev: list[Example], settings: TuningConfig,
           progress: bool) -> tuple[Table, int, list[float]]:
    """Step until the step cap, the time cap or `patience` dev checks without a better frame score."""
    began, losses = time.perf_counter(), []
    best: tuple[float, Table] | None = None
    stale, step = 0, 0
    deadline = began + settings.max_minutes * 60
    if settings.warm_start > 0:
        now, budget = time.monotonic(), settings.max_minutes * 60 * settings.warm_start
        trainer.warm_start(items, cache_until=now + budget * 0.8, train_until=now + budget)
    with _progress(progress) as bar:
        task = bar.add_task(f"tuning {trainer.skill.name}", total=settings.steps, loss=float("nan"), dev="-")
        for step, batch in enumerate(_batches(items, min(settings.batch_size, len(items)), settings.seed), 1):
            losses.append(trainer.step(batch))
            bar.update(task, advance=1, loss=sum(losses[-10:]) / len(losses[-10:]))
            last = step >= settings.steps or time.perf_counter() > deadline
            if dev and (step % settings.eval_every == 0 or last):
                table = trainer.snapshot(f"step{step}")
                frame = score(dev, [r.frame for r in TunedReader(trainer.runtime, trainer.skill, table).read(
                    [e.text for e in dev])]).frame_accuracy
                bar.update(task, dev=f"frame {frame:.1%}")
                if best is None or frame > best[0]:
                    best, stale = (frame, table), 0
                    trainer.remember()
                else:
                    stale += 1
            if last or stale >= settings.patience:
                break
    if best is None:
        trainer.remember()
        best = (math.nan, trainer.snapshot(f"step{step}"))
    trainer.restore()
    return best[1], step, losses


def _read(trainer: ReadoutTrainer, skill: SkillConfig, table: Table, dev: list[Example]) -> Scores:
    frames = [r.frame for r in TunedReader(trainer.runtime, skill, table).read([e.text for e in dev])]
    return score(dev, frames)


def dev_figures(dev: Sequence[Example], scores: Scores) -> DevFigures:
    """Dev scores with a 90 % Wilson interval on frame accuracy, and a warning for thin intents."""
    low, high = _wilson(scores.frame_accuracy, scores.n)
    counts: dict[str, int] = {}
    for example in dev:
        counts[example.intent] = counts.get(example.intent, 0) + 1
    thin = sorted(i for i, n in counts.items() if n < MIN_PER_INTENT)
    warning = (f"{len(thin)} intent(s) have fewer than {MIN_PER_INTENT} dev turns ({', '.join(thin[:5])}): "
               "their figures cannot be measured; add examples") if thin else None
    return DevFigures(n=scores.n, frame_accuracy=scores.frame_accuracy, intent_accuracy=scores.intent_accuracy,
                      slot_f1=scores.slot_f1, frame_low=low, frame_high=high, warning=warning)


def _wilson(p: float, n: int, z: float = 1.645) -> tuple[float, float]:
    """Wilson score interval for a proportion (90 % for z=1.645): honest for small n."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _progress(enabled: bool) -> Progress:
    """Loss, dev score and ETA on stderr, so stdout stays machine-readable."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("dev {task.fields[dev]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    return Progress(*columns, console=Console(stderr=True), disable=not enabled)


def _save(trainer: ReadoutTrainer, result: TuningResult, out_dir: Path, base: BaseModel, settings: TuningConfig,
          hashed: str) -> None:
    """Adapter files + heads + manifest written aside, then moved in: never half a table."""
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    trainer.save(staging, result.table)
    write_manifest(staging, Manifest(
        base_model=base.name, base_fingerprint=base.fingerprint, reader=ReaderKind.readout,
        method=settings.method.value, kind=result.table.kind.value, virtual_tokens=settings.virtual_tokens,
        readout=result.table.spec, data_hash=hashed, steps=result.steps, tuning_seconds=round(result.seconds, 1),
        dev=result.dev, settings=settings.model_dump(mode="json"), created=datetime.now(timezone.utc).isoformat()))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
