"""Out-of-scope detection by confidence: a turn read with confidence below a threshold counts as
out of scope, as the router does with `min_route_confidence`.

For a data set whose out-of-scope turns carry one intent name (CLINC150's `oos`): out-of-scope
recall (its turns caught), precision, and in-scope accuracy (in-scope turns read as their own
intent and not rejected), at each threshold. The operating point is chosen a priori (the
product's default) and the rest of the sweep is shown for insight, never tuned on the eval data.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from bot.types import Example, Frame

__all__ = ["THRESHOLDS", "OutOfScopeRow", "out_of_scope_sweep", "sweep_table"]

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)


class OutOfScopeRow(BaseModel):
    threshold: float
    out_of_scope_recall: float
    out_of_scope_precision: float
    in_scope_accuracy: float


def out_of_scope_sweep(examples: Sequence[Example], frames: Sequence[Frame], oos_intent: str,
                       thresholds: Sequence[float] = THRESHOLDS) -> list[OutOfScopeRow]:
    """One row per threshold; a frame is out of scope if it names `oos_intent` or is unsure."""
    if len(examples) != len(frames):
        raise ValueError("one frame per example")
    gold_oos = [e.intent == oos_intent for e in examples]
    if not any(gold_oos) or all(gold_oos):
        raise ValueError(f"need both '{oos_intent}' and in-scope examples (e.g. CLINC150 --split val+oos_val)")
    rows = []
    for threshold in thresholds:
        rejected = [f.intent == oos_intent or f.confidence < threshold for f in frames]
        caught = sum(g and r for g, r in zip(gold_oos, rejected))
        in_scope = [(e, f, r) for e, f, r, g in zip(examples, frames, rejected, gold_oos) if not g]
        rows.append(OutOfScopeRow(
            threshold=threshold, out_of_scope_recall=caught / sum(gold_oos),
            out_of_scope_precision=caught / sum(rejected) if any(rejected) else 1.0,
            in_scope_accuracy=sum(not r and f.intent == e.intent for e, f, r in in_scope) / len(in_scope)))
    return rows


def sweep_table(rows: Sequence[OutOfScopeRow]) -> str:
    lines = ["| min confidence | OOS recall | OOS precision | in-scope accuracy |", "|---:|---:|---:|---:|"]
    lines += [f"| {r.threshold:.2f} | {r.out_of_scope_recall:.1%} | {r.out_of_scope_precision:.1%} | "
              f"{r.in_scope_accuracy:.1%} |" for r in rows]
    return "\n".join(lines) + "\n"
