"""`bot bench compare`: train and measure every system on the same splits, each in its own process."""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import version

from bot.bench.data import BenchData, load_bench_data
from bot.bench.isolate import run_isolated
from bot.bench.results import BenchReport, DataSummary, SystemResult, SystemRun
from bot.bench.settings import BenchSettings, System

__all__ = ["NOTES", "compare", "run_system"]

NOTES = [
    "Peak memory: peak resident set size (Linux: VmHWM) of a fresh process that ran only that system's "
    "training and evaluation; 'baseline' is the same process right after importing torch and transformers.",
    "Latency: wall time of one turn read alone on this CPU (BERT: every evaluation turn, both models; "
    "LLM: the first 16 turns, as `bot eval` measures them; the rest are read in batches).",
    "On disk: BERT: both fine-tuned models as save_pretrained writes them (config + safetensors) plus "
    "one tokenizer; LLM: skill.yaml, plus examples.jsonl (few-shot demonstrations) or the table folder "
    "(tuned). The frozen LLM itself is shared by every skill and not counted.",
    "Training time: BERT: loading and fine-tuning both models; LLM tuned: `bot tune` (its own dev "
    "checks included; it holds out 10 % of the training split, at most 120 examples, for early "
    "stopping); zero-/few-shot: no training.",
]


def compare(settings: BenchSettings, *, on_system: Callable[[System], None] | None = None) -> BenchReport:
    """Load the splits once, run each system in a fresh process, gather one report."""
    data = load_bench_data(settings.data, split=settings.split, eval_data=settings.eval_data,
                           eval_split=settings.eval_split, dev_fraction=settings.dev_fraction,
                           seed=settings.seed, max_train=settings.max_train, max_eval=settings.max_eval)
    results: dict[str, SystemResult] = {}
    for system in settings.systems:
        if on_system:
            on_system(system)
        evaluation = _evaluation_for(system, data, settings)
        run, peak, baseline = run_isolated(run_system, system, data.train, evaluation, settings)
        results[system.value] = SystemResult.of(system.value, run, peak_rss=peak, baseline_rss=baseline)
    return BenchReport(title=f"LLM skill vs BERT ensemble on {data.train_source}",
                       created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       data=_summary(data), settings=settings.model_dump(mode="json"),
                       machine=_machine(), notes=NOTES, systems=results)


def run_system(system: System, train: list, evaluation: list, settings: BenchSettings) -> SystemRun:
    """Runs inside the system's own process (see `run_isolated`)."""
    from bot.model.runtime import set_threads, thread_count

    if settings.threads:
        set_threads(settings.threads)
    if system is System.bert:
        from bot.bench import bert

        run = bert.run(train, evaluation, settings.bert_settings(), settings.encoder)
    else:
        from bot.bench import llm

        run = llm.run(system.mode, train, evaluation, settings)
    return run.model_copy(update={"details": {**run.details, "torch_threads": thread_count()}})


def _evaluation_for(system: System, data: BenchData, settings: BenchSettings) -> list:
    """The evaluation split, or for untuned LLM modes a seeded sample of `prompted_eval` turns."""
    if system.prompted and settings.prompted_eval < len(data.eval):
        return random.Random(settings.seed).sample(data.eval, settings.prompted_eval)
    return data.eval


def _summary(data: BenchData) -> DataSummary:
    return DataSummary(train_source=data.train_source, eval_source=data.eval_source, n_train=len(data.train),
                       n_eval=len(data.eval), carved=data.carved, eval_train_overlap=data.overlap)


def _machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "python": platform.python_version(),
            "torch": version("torch"), "transformers": version("transformers")}
