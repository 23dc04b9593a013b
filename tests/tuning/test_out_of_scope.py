"""The out-of-scope sweep on hand-computed cases."""

from __future__ import annotations

import pytest

from bot.tuning.out_of_scope import out_of_scope_sweep, sweep_table
from bot.types import Example, Frame

EXAMPLES = [Example(text="a", intent="pay"), Example(text="b", intent="pay"),
            Example(text="c", intent="card"), Example(text="d", intent="oos"), Example(text="e", intent="oos")]
FRAMES = [Frame(intent="pay", confidence=0.9), Frame(intent="pay", confidence=0.4),
          Frame(intent="pay", confidence=0.95), Frame(intent="oos", confidence=0.8),
          Frame(intent="card", confidence=0.2)]


def test_sweep_counts_rejections_by_intent_and_by_confidence():
    rows = {r.threshold: r for r in out_of_scope_sweep(EXAMPLES, FRAMES, "oos", (0.0, 0.5))}
    assert rows[0.0].out_of_scope_recall == 0.5  # only the frame that says oos
    assert rows[0.0].out_of_scope_precision == 1.0
    assert rows[0.0].in_scope_accuracy == pytest.approx(2 / 3)  # pay, pay right; card read as pay
    assert rows[0.5].out_of_scope_recall == 1.0  # the unsure 'card' reading of an oos turn is caught
    assert rows[0.5].out_of_scope_precision == pytest.approx(2 / 3)  # the unsure 'pay' is rejected too
    assert rows[0.5].in_scope_accuracy == pytest.approx(1 / 3)
    assert "| 0.50 | 100.0% | 66.7% | 33.3% |" in sweep_table(list(rows.values()))


def test_sweep_needs_both_kinds_of_turns():
    with pytest.raises(ValueError, match="need both"):
        out_of_scope_sweep(EXAMPLES[:3], FRAMES[:3], "oos")
