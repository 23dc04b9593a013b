"""Scores for a labelled test set: intent accuracy, span-level slot P/R/F1, frame accuracy,
per-intent rows, the intent confusion matrix and latency percentiles.

Conventions, fixed here so numbers from different runs and modes compare cleanly:

* Intents are compared exactly (they are names from `skill.yaml`).
* A slot *span* is a ``(slot name, value)`` pair. Names are compared exactly; values after
  lower-casing and collapsing runs of whitespace (``" New   York" == "new york"``).
* Slot precision / recall / F1 are micro-averaged over the whole set, as conlleval does:
  precision = correct / predicted spans, recall = correct / gold spans, F1 their harmonic
  mean (0.0 when both are 0). With no predicted spans, precision is 1.0 if there are no gold
  spans either, else 0.0; with no gold spans, recall is 1.0 if nothing was predicted either,
  else 0.0. So an all-empty set scores 1.0 and spurious or missed spans score 0.0.
* A frame is correct when the intent is right and the predicted span set equals the gold one.
* Per-intent rows group examples by their *gold* intent; an intent that is only ever predicted
  shows up in the confusion matrix (labels = sorted union of gold and predicted) but has no row.
* Latency percentiles interpolate linearly at position (n - 1) * q of the sorted values
  (numpy's default). Latencies, when given, are one per example, in seconds; reported in ms.
* An empty test set is an error: every ratio would be 0/0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.types import Example, Frame

__all__ = [
    "Confusion",
    "IntentRow",
    "Scores",
    "SpanCounts",
    "normalise_value",
    "percentile",
    "score",
    "spans_of",
]

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Span = tuple[str, str]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpanCounts(_Frozen):
    """Raw span counts, kept so that results can be summed and P/R/F1 recomputed exactly."""

    correct: int = Field(default=0, ge=0)
    predicted: int = Field(default=0, ge=0)
    gold: int = Field(default=0, ge=0)

    def __add__(self, other: SpanCounts) -> SpanCounts:
        return SpanCounts(correct=self.correct + other.correct,
                          predicted=self.predicted + other.predicted, gold=self.gold + other.gold)

    @property
    def precision(self) -> float:
        """correct / predicted; with nothing predicted, 1.0 only if there was nothing to find."""
        if self.predicted == 0:
            return 1.0 if self.gold == 0 else 0.0
        return self.correct / self.predicted

    @property
    def recall(self) -> float:
        """correct / gold; with no gold spans, 1.0 only if nothing was predicted either."""
        if self.gold == 0:
            return 1.0 if self.predicted == 0 else 0.0
        return self.correct / self.gold

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall; 0.0 when both are 0."""
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


class IntentRow(_Frozen):
    """Scores of the examples whose gold intent is `intent`."""

    intent: str
    support: int = Field(ge=1)
    intent_accuracy: Ratio
    slot_f1: Ratio
    frame_accuracy: Ratio


class Confusion(_Frozen):
    """Intent confusion counts: matrix[gold_index][predicted_index] over the sorted labels."""

    labels: list[str]
    matrix: list[list[int]]

    @model_validator(mode="after")
    def _square(self) -> Confusion:
        size = len(self.labels)
        if len(self.matrix) != size or any(len(row) != size for row in self.matrix):
            raise ValueError(f"confusion matrix must be {size}x{size}, one row/column per label")
        return self


class Scores(_Frozen):
    """Every number of one evaluation run; round-trips through JSON (model_dump_json)."""

    n: int = Field(ge=1)
    intent_accuracy: Ratio
    slot_precision: Ratio
    slot_recall: Ratio
    slot_f1: Ratio
    frame_accuracy: Ratio
    slot_spans: SpanCounts
    per_intent: list[IntentRow]
    confusion: Confusion
    latency_p50_ms: float | None = Field(default=None, ge=0.0)
    latency_p95_ms: float | None = Field(default=None, ge=0.0)


@dataclass(frozen=True)
class _Tally:
    n: int
    intent_correct: int
    frame_correct: int
    spans: SpanCounts


def normalise_value(value: str) -> str:
    """Lower-case and collapse whitespace, so casing and spacing slips are not counted as errors."""
    return " ".join(value.lower().split())


def spans_of(slots: Mapping[str, str]) -> frozenset[Span]:
    """The (slot name, normalised value) spans of a slot mapping."""
    return frozenset((name, normalise_value(value)) for name, value in slots.items())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (q in [0, 1]) by linear interpolation between closest ranks, like numpy."""
    if not values:
        raise ValueError("percentile of an empty list is undefined")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def score(gold: Sequence[Example], predicted: Sequence[Frame], *,
          latencies_s: Sequence[float] | None = None) -> Scores:
    """Score predictions against gold examples, pairwise in order (see the module conventions)."""
    _check_inputs(gold, predicted, latencies_s)
    pairs = list(zip(gold, predicted))
    total = _tally(pairs)
    p50, p95 = _latency_ms(latencies_s)
    return Scores(
        n=total.n, intent_accuracy=total.intent_correct / total.n,
        slot_precision=total.spans.precision, slot_recall=total.spans.recall,
        slot_f1=total.spans.f1, frame_accuracy=total.frame_correct / total.n,
        slot_spans=total.spans, per_intent=_per_intent(pairs), confusion=_confusion(pairs),
        latency_p50_ms=p50, latency_p95_ms=p95,
    )


def _check_inputs(gold: Sequence[Example], predicted: Sequence[Frame],
                  latencies_s: Sequence[float] | None) -> None:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold examples but {len(predicted)} predictions; "
                         "pass exactly one prediction per example, in the same order")
    if not gold:
        raise ValueError("no examples to score; the test set is empty")
    if latencies_s is not None and len(latencies_s) != len(gold):
        raise ValueError(f"{len(latencies_s)} latencies for {len(gold)} examples; "
                         "pass one latency per example, or None")
    if latencies_s is not None and not all(math.isfinite(t) and t >= 0 for t in latencies_s):
        raise ValueError("latencies must be finite, non-negative numbers of seconds")


def _tally(pairs: Sequence[tuple[Example, Frame]]) -> _Tally:
    intent_correct = frame_correct = correct = n_predicted = n_gold = 0
    for example, frame in pairs:
        gold_spans, predicted_spans = spans_of(example.slots), spans_of(frame.slots)
        intent_ok = example.intent == frame.intent
        intent_correct += intent_ok
        frame_correct += intent_ok and gold_spans == predicted_spans
        correct += len(gold_spans & predicted_spans)
        n_predicted += len(predicted_spans)
        n_gold += len(gold_spans)
    spans = SpanCounts(correct=correct, predicted=n_predicted, gold=n_gold)
    return _Tally(len(pairs), intent_correct, frame_correct, spans)


def _per_intent(pairs: Sequence[tuple[Example, Frame]]) -> list[IntentRow]:
    groups: dict[str, list[tuple[Example, Frame]]] = {}
    for example, frame in pairs:
        groups.setdefault(example.intent, []).append((example, frame))
    rows = []
    for intent in sorted(groups):
        t = _tally(groups[intent])
        rows.append(IntentRow(intent=intent, support=t.n, intent_accuracy=t.intent_correct / t.n,
                              slot_f1=t.spans.f1, frame_accuracy=t.frame_correct / t.n))
    return rows


def _confusion(pairs: Sequence[tuple[Example, Frame]]) -> Confusion:
    labels = sorted({e.intent for e, _ in pairs} | {f.intent for _, f in pairs})
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for example, frame in pairs:
        matrix[index[example.intent]][index[frame.intent]] += 1
    return Confusion(labels=labels, matrix=matrix)


def _latency_ms(latencies_s: Sequence[float] | None) -> tuple[float | None, float | None]:
    if latencies_s is None:
        return None, None
    ms = [t * 1000.0 for t in latencies_s]
    return percentile(ms, 0.50), percentile(ms, 0.95)
