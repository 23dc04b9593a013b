"""Evaluate a skill on labelled turns in one or all prompting modes (the prompting ladder)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.config import PromptMode
from bot.model.readers import reader_for
from bot.model.runtime import Runtime
from bot.skills.skill import Skill
from bot.tuning.metrics import Scores, percentile, score
from bot.types import Example, Frame

__all__ = ["LATENCY_SAMPLES", "evaluate"]

LATENCY_SAMPLES = 16  # turns read one at a time for latency; the rest run batched for speed


def evaluate(runtime: Runtime, skill: Skill, examples: Sequence[Example], mode: PromptMode, *,
             batch_size: int = 32, on_batch: Callable[[int], None] | None = None,
             frames_out: list[Frame] | None = None) -> Scores:
    """Scores of one mode; latency p50/p95 come from turns read alone, as a user would see them.
    `frames_out`, when given, receives the frames read (for analyses such as out-of-scope sweeps)."""
    reader = reader_for(runtime, skill, mode, exclude=[e.text for e in examples])
    texts = [e.text for e in examples]
    alone = min(LATENCY_SAMPLES, len(texts))
    readings = []
    for text in texts[:alone]:
        readings += reader.read([text], batch_size=1)
        if on_batch:
            on_batch(1)
    for start in range(alone, len(texts), batch_size):
        readings += reader.read(texts[start:start + batch_size], batch_size=batch_size)
        if on_batch:
            on_batch(len(texts[start:start + batch_size]))
    latencies = [r.seconds for r in readings[:alone]]
    if frames_out is not None:
        frames_out.extend(r.frame for r in readings)
    return score(examples, [r.frame for r in readings]).model_copy(
        update={"latency_p50_ms": _ms(latencies, 0.5), "latency_p95_ms": _ms(latencies, 0.95)})


def _ms(latencies: list[float], q: float) -> float | None:
    return percentile(latencies, q) * 1000 if latencies else None
