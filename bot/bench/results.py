"""What a comparison run measured: one `SystemResult` per system inside a `BenchReport`.

Every number carries its valid range (pydantic), so a report that loads is a report whose
ratios lie in [0, 1] and whose times, sizes and memory are non-negative.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from bot.tuning.metrics import Scores

__all__ = ["BenchReport", "DataSummary", "SystemResult", "SystemRun"]

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemRun(_Frozen):
    """What a system's own process returns: scores, times, bytes on disk, how it was run."""

    label: str
    n_train: int = Field(ge=1)
    scores: Scores
    train_seconds: Seconds
    eval_seconds: Seconds
    disk_bytes: int = Field(ge=0)
    disk_files: list[str]  # what `disk_bytes` counts, relative to the skill or model folder
    latency_turns: int = Field(ge=1)  # turns read one at a time for p50/p95
    details: dict[str, Any] = Field(default_factory=dict)


class SystemResult(_Frozen):
    """One row of the comparison: quality, cost and speed of one system."""

    system: str
    label: str
    n_train: int = Field(ge=1)
    n_eval: int = Field(ge=1)
    intent_accuracy: Ratio
    slot_precision: Ratio
    slot_recall: Ratio
    slot_f1: Ratio
    frame_accuracy: Ratio
    train_seconds: Seconds
    eval_seconds: Seconds
    disk_bytes: int = Field(ge=0)
    disk_files: list[str]
    peak_rss_bytes: int = Field(gt=0)
    baseline_rss_bytes: int = Field(gt=0)  # the same process after importing torch + transformers
    latency_p50_ms: Seconds
    latency_p95_ms: Seconds
    latency_turns: int = Field(ge=1)
    details: dict[str, Any] = Field(default_factory=dict)
    scores: Scores

    @classmethod
    def of(cls, system: str, run: SystemRun, *, peak_rss: int, baseline_rss: int) -> SystemResult:
        s = run.scores
        return cls(system=system, label=run.label, n_train=run.n_train, n_eval=s.n,
                   intent_accuracy=s.intent_accuracy, slot_precision=s.slot_precision,
                   slot_recall=s.slot_recall, slot_f1=s.slot_f1, frame_accuracy=s.frame_accuracy,
                   train_seconds=run.train_seconds, eval_seconds=run.eval_seconds,
                   disk_bytes=run.disk_bytes, disk_files=run.disk_files, peak_rss_bytes=peak_rss,
                   baseline_rss_bytes=baseline_rss, latency_p50_ms=s.latency_p50_ms,
                   latency_p95_ms=s.latency_p95_ms, latency_turns=run.latency_turns,
                   details=run.details, scores=s)


class DataSummary(_Frozen):
    train_source: str
    eval_source: str
    n_train: int = Field(ge=1)
    n_eval: int = Field(ge=1)
    carved: bool
    eval_train_overlap: int = Field(ge=0)


class BenchReport(_Frozen):
    """The whole run: data, settings, machine, how memory was measured, and each system."""

    title: str
    created: str
    data: DataSummary
    settings: dict[str, Any]
    machine: dict[str, Any]
    notes: list[str]
    systems: dict[str, SystemResult] = Field(min_length=1)
