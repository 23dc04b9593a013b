"""The product's side: one skill built from the training split, read by the frozen LLM in one mode.

The skill is made the way a user makes one (`bot new` from the examples: `scaffold_skill`), tuned
with the engine's `tune_table` (tuned mode) and evaluated with `bot eval`'s `evaluate`, so the
numbers are those of the served runtime path.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from bot.bench.results import SystemRun
from bot.bench.settings import BenchSettings
from bot.config import PromptMode
from bot.model.base import load_base_model, resolve_model
from bot.model.runtime import Runtime
from bot.skills.examples import save_examples
from bot.skills.scaffold import scaffold_skill
from bot.skills.skill import CONFIG_FILE, EXAMPLES_FILE, Skill, load_skill
from bot.tuning.evaluate import LATENCY_SAMPLES, evaluate
from bot.tuning.tune import tune_table
from bot.types import Example

__all__ = ["SKILL_NAME", "folder_bytes", "run"]

SKILL_NAME = "bench"


def folder_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(mode: PromptMode, train: Sequence[Example], evaluation: Sequence[Example],
        settings: BenchSettings) -> SystemRun:
    """Build the skill, tune it when `mode` is tuned, evaluate it; measure time and bytes."""
    base = load_base_model(settings.model)  # shared by every skill: not counted as training
    with tempfile.TemporaryDirectory() as tmp:
        skill = _skill_from(train, Path(tmp))
        began = time.perf_counter()
        details = _tune(base, skill, settings) if mode == PromptMode.tuned else {}
        train_seconds = time.perf_counter() - began if mode == PromptMode.tuned else 0.0
        began = time.perf_counter()
        scores = _evaluate(Runtime(base), skill, evaluation, mode)
        eval_seconds = time.perf_counter() - began
        files = _skill_files(skill, mode)
        disk = sum(folder_bytes(skill.root / name) for name in files)
    details = {"model": base.name, "prompting": mode.value, **details}
    return SystemRun(label=f"LLM skill, {mode.value.replace('_', '-')}", n_train=len(train), scores=scores,
                     train_seconds=train_seconds, eval_seconds=eval_seconds, disk_bytes=disk, disk_files=files,
                     latency_turns=min(LATENCY_SAMPLES, len(evaluation)), details=details)


def _skill_from(train: Sequence[Example], tmp: Path) -> Skill:
    """`bot new bench --data train.jsonl` in a temporary folder."""
    data = tmp / "train.jsonl"
    save_examples(data, list(train))
    return load_skill(scaffold_skill(tmp / SKILL_NAME, name=SKILL_NAME, data=data))


def _tune(base, skill: Skill, settings: BenchSettings) -> dict:
    """`bot tune` with --steps / --minutes from the bench settings."""
    overrides = {"steps": settings.max_steps, "max_minutes": settings.minutes}
    tuning = skill.config.tuning.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    result = tune_table(base, skill.config, skill.examples(), model_dir=str(resolve_model(settings.model)[1]),
                        out_dir=skill.table_dir, settings=tuning)
    return {"steps": result.steps, "tuning_seconds": round(result.seconds, 1),
            "tuning_dev_frame_accuracy": result.dev.frame_accuracy, "tuning": tuning.model_dump(mode="json")}


def _evaluate(runtime: Runtime, skill: Skill, evaluation: Sequence[Example], mode: PromptMode):
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task(f"LLM eval {mode.value}", total=len(evaluation))
        return evaluate(runtime, skill, evaluation, mode, on_batch=lambda n: progress.advance(task, n))


def _skill_files(skill: Skill, mode: PromptMode) -> list[str]:
    """What serving the skill in this mode reads: skill.yaml, plus the examples (demonstrations)
    or the table folder."""
    extra = {PromptMode.tuned: [skill.table_dir.name], PromptMode.zero_shot: []}.get(mode, [EXAMPLES_FILE])
    return [CONFIG_FILE, *extra]
