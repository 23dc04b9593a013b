"""A tuning run: learn one skill's deep prompt and read-out heads, keep the best on dev, save.

The model room does the passes (`ReadoutTrainer`); this module decides what to train on, when to
check dev, when to stop, and what the manifest says, so what is tuned is exactly what is served.
"""

from __future__ import annotations

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
from bot.model.training import ReadoutTrainer, TrainingItem, calibrated, length_sorted_chunks, with_temperature
from bot.model.tuned_reader import TunedReader
from bot.skills.manifest import DevFigures, Manifest, ReaderKind, data_hash, write_manifest
from bot.tuning.metrics import Scores, score
from bot.types import Example

__all__ = ["DEV_CAP", "REFIT_ESTIMATE", "TuningResult", "dev_figures", "split_dev", "tune_table"]

DEV_CAP = 300  # dev turns read at each check: one pass each, so a few seconds on a CPU
REFIT_ESTIMATE = "dev split, read before the heads were refitted on all examples"
REFIT_SKIPPED = ("the heads were not refitted on the dev examples (tuning.refit): the time cap was spent first; "
                 "raise tuning.max_minutes or pass --minutes")
MIN_PER_INTENT = 5  # fewer dev turns of an intent than this: its figure cannot be trusted


@dataclass
class TuningResult:
    table: Table
    steps: int
    seconds: float
    dev: DevFigures
    losses: list[float] = field(default_factory=list)
    dev_history: list[tuple[int, float]] = field(default_factory=list)  # (step, dev frame accuracy)
    warm_examples: int = 0  # examples whose states the warm start cached


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
    history: list[tuple[int, float]] = []
    refit = settings.refit and settings.warm_start > 0 and bool(dev)
    train_items = trainer.items(train)
    table, steps, losses, warm = _train(trainer, train_items, dev, settings, progress, history,
                                        refit_items=len(dev) if refit else 0)
    table = calibrated(table, trainer.runtime, skill, dev)
    figures = dev_figures(dev, _read(trainer, skill, table, dev)) if dev else DevFigures()
    deadline = time.monotonic() + settings.max_minutes * 60 - (time.perf_counter() - began)
    if refit and _refit(trainer, train_items, trainer.items(dev), deadline, progress):
        table = with_temperature(trainer.snapshot(table.version), table.spec.temperature)  # as fitted on dev
        figures = figures.model_copy(update={"estimate": REFIT_ESTIMATE})
    elif refit:  # the user asked for it (the default) and should know it did not happen
        figures = figures.model_copy(update={"warning": "; ".join(filter(None, [figures.warning, REFIT_SKIPPED]))})
    result = TuningResult(table=table, steps=steps, seconds=time.perf_counter() - began, dev=figures, losses=losses,
                          dev_history=history, warm_examples=warm)
    _save(trainer, result, Path(out_dir), base, settings, data_hash(examples))
    return result


def _refit(trainer: ReadoutTrainer, train: list[TrainingItem], dev: list[TrainingItem], until: float,
           progress: bool) -> bool:
    with _progress(progress) as bar:
        bar.add_task("fitting the heads again, dev examples included", total=None, loss=float("nan"), dev="-")
        return trainer.refit(train, dev, until=until)


def _batches(items: list[TrainingItem], size: int, seed: int) -> Iterator[list[TrainingItem]]:
    """Endless shuffled batches of similar length: less padding, so more steps per minute."""
    rng = random.Random(seed)
    while True:
        batches = length_sorted_chunks(items, size, rng, whole_only=True)
        rng.shuffle(batches)
        for batch in batches:
            yield [items[i] for i in batch]


class _Best:
    """The best checkpoint by dev frame accuracy so far, and how many checks since it improved."""

    def __init__(self, trainer: ReadoutTrainer, dev: list[Example], history: list[tuple[int, float]]) -> None:
        self.trainer, self.dev, self.history = trainer, dev, history
        self.score, self.table, self.stale = -1.0, None, 0

    def check(self, step: int) -> float:
        table = self.trainer.snapshot(f"step{step}")
        frame = _dev_frame(self.trainer, table, self.dev)
        self.history.append((step, frame))
        if frame > self.score:
            self.score, self.table, self.stale = frame, table, 0
            self.trainer.remember()
        else:
            self.stale += 1
        return frame


def _train(trainer: ReadoutTrainer, items: list[TrainingItem], dev: list[Example], settings: TuningConfig,
           progress: bool, history: list[tuple[int, float]], *, refit_items: int = 0
           ) -> tuple[Table, int, list[float], int]:
    """Fit the heads on cached states, then step the prompt until the step cap, the time cap (less
    what refitting the heads with `refit_items` more examples will take, as the warm start timed
    it) or `patience` dev checks without a better frame score. Dev is read before anything
    is trained and after the warm start too, so `history` shows what each phase bought."""
    began, losses, step, warm = time.perf_counter(), [], 0, 0
    deadline = began + settings.max_minutes * 60
    best = _Best(trainer, dev, history)
    with _progress(progress) as bar:
        if dev:  # the untrained heads: what tuning starts from
            history.append((0, _dev_frame(trainer, trainer.snapshot("untrained"), dev)))
        if settings.warm_start > 0:
            now, budget = time.monotonic(), settings.max_minutes * 60 * settings.warm_start
            reading = bar.add_task("reading examples for the heads", total=len(items), loss=float("nan"), dev="-")
            warm = trainer.warm_start(items, cache_until=now + budget * 0.7, train_until=now + budget,
                               on_cached=lambda n: bar.advance(reading, n))
            if dev:
                best.check(0)
            if refit_items:  # what the refit takes, reading every example again, at most half of what is left
                need = (trainer.fit_seconds * (1 + refit_items / max(1, warm))
                        + trainer.seconds_per_cached * (len(items) + refit_items))
                deadline -= min(need, (deadline - time.perf_counter()) / 2)
        task = bar.add_task(f"tuning {trainer.skill.name}", total=settings.steps, loss=float("nan"), dev="-")
        for step, batch in enumerate(_batches(items, min(settings.batch_size, len(items)), settings.seed), 1):
            losses.append(trainer.step(batch))
            bar.update(task, advance=1, loss=sum(losses[-10:]) / len(losses[-10:]))
            last = step >= settings.steps or time.perf_counter() > deadline
            if dev and (step % settings.eval_every == 0 or last):
                bar.update(task, dev=f"frame {best.check(step):.1%}")
            if last or best.stale >= settings.patience:
                break
    if best.table is None:  # no dev split: keep the last state
        trainer.remember()
        best.table = trainer.snapshot(f"step{step}")
    trainer.restore()
    return best.table, step, losses, warm


def _dev_frame(trainer: ReadoutTrainer, table: Table, dev: list[Example]) -> float:
    return _read(trainer, trainer.skill, table, dev).frame_accuracy


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
        readout=result.table.spec, data_hash=hashed, steps=result.steps, warm_examples=result.warm_examples,
        tuning_seconds=round(result.seconds, 1),
        dev=result.dev, settings=settings.model_dump(mode="json"), created=datetime.now(timezone.utc).isoformat()))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
