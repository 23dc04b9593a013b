"""Hand-computed checks of bot.tuning.metrics."""

from __future__ import annotations

import pytest

from bot.tuning.metrics import Scores, SpanCounts, normalise_value, percentile, score, spans_of
from bot.types import Example, Frame


def ex(intent: str, **slots: str) -> Example:
    return Example(text="-", intent=intent, slots=slots)


def fr(intent: str, **slots: str) -> Frame:
    return Frame(intent=intent, slots=slots, confidence=0.9)


GOLD = [
    ex("book", party_size="two", time="7pm", day="friday"),
    ex("weather", city="Paris"),
    ex("play", genre="jazz", artist="Miles  Davis"),
    ex("greet"),
]
PRED = [
    fr("book", party_size="  Two "),                 # right intent, 2 spans missing
    fr("weather", city="paris", date="today"),       # right intent, 1 extra span
    fr("weather", genre="blues", artist="miles davis"),  # wrong intent, 1 wrong value
    fr("greet"),                                     # all right, no slots on either side
]
# spans per example (correct, predicted, gold):
#   book (1, 1, 3)   weather (1, 2, 1)   play (1, 2, 2)   greet (0, 0, 0)
# totals: correct 3, predicted 5, gold 6
#   P = 3/5 = 0.6   R = 3/6 = 0.5   F1 = 2*0.6*0.5 / 1.1 = 0.6/1.1 = 6/11
# intent accuracy: book, weather, greet right -> 3/4; frame accuracy: only greet -> 1/4


def test_totals() -> None:
    s = score(GOLD, PRED)
    assert s.n == 4
    assert s.intent_accuracy == pytest.approx(0.75)
    assert s.slot_spans == SpanCounts(correct=3, predicted=5, gold=6)
    assert s.slot_precision == pytest.approx(0.6)
    assert s.slot_recall == pytest.approx(0.5)
    assert s.slot_f1 == pytest.approx(6 / 11)
    assert s.frame_accuracy == pytest.approx(0.25)
    assert s.latency_p50_ms is None and s.latency_p95_ms is None


def test_per_intent_rows_sorted_by_gold_intent() -> None:
    rows = {r.intent: r for r in score(GOLD, PRED).per_intent}
    assert list(rows) == ["book", "greet", "play", "weather"]
    assert all(r.support == 1 for r in rows.values())
    # book: P 1/1, R 1/3 -> F1 = 2*(1/3)/(4/3) = 0.5; greet: no spans -> 1.0
    # play: P 1/2, R 1/2 -> 0.5; weather: P 1/2, R 1/1 -> 2*0.5/1.5 = 2/3
    assert rows["book"].slot_f1 == pytest.approx(0.5)
    assert rows["greet"].slot_f1 == pytest.approx(1.0)
    assert rows["play"].slot_f1 == pytest.approx(0.5)
    assert rows["weather"].slot_f1 == pytest.approx(2 / 3)
    assert [rows[i].intent_accuracy for i in rows] == [1.0, 1.0, 0.0, 1.0]
    assert [rows[i].frame_accuracy for i in rows] == [0.0, 1.0, 0.0, 0.0]


def test_confusion_cells() -> None:
    c = score(GOLD, PRED).confusion
    assert c.labels == ["book", "greet", "play", "weather"]
    assert c.matrix == [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 1],  # play predicted as weather
        [0, 0, 0, 1],
    ]


def test_confusion_labels_include_intents_only_predicted() -> None:
    s = score([ex("a"), ex("b")], [fr("a"), fr("zzz")])
    assert s.confusion.labels == ["a", "b", "zzz"]
    assert s.confusion.matrix == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]
    assert [r.intent for r in s.per_intent] == ["a", "b"]


def test_frame_accuracy_normalises_values() -> None:
    s = score([ex("a", city="New York")], [fr("a", city=" new   YORK ")])
    assert s.frame_accuracy == 1.0 and s.slot_f1 == 1.0


def test_same_value_under_other_slot_name_is_wrong() -> None:
    s = score([ex("a", origin="paris")], [fr("a", destination="paris")])
    assert (s.slot_precision, s.slot_recall, s.slot_f1, s.frame_accuracy) == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("gold_slots", "pred_slots", "expected"),
    [
        ({}, {}, (1.0, 1.0, 1.0)),              # nothing to find, nothing found
        ({}, {"x": "1"}, (0.0, 0.0, 0.0)),      # spurious span: P 0/1; no gold but predicted -> R 0
        ({"x": "1"}, {}, (0.0, 0.0, 0.0)),      # missed span: nothing predicted -> P 0; R 0/1
    ],
)
def test_empty_slot_conventions(gold_slots: dict, pred_slots: dict, expected: tuple) -> None:
    s = score([ex("a", **gold_slots)], [fr("a", **pred_slots)])
    assert (s.slot_precision, s.slot_recall, s.slot_f1) == expected


def test_percentile_linear_like_numpy() -> None:
    values = [400.0, 100.0, 300.0, 200.0]
    # sorted 100..400; position (4-1)*0.5 = 1.5 -> 200 + 0.5*100 = 250
    assert percentile(values, 0.5) == pytest.approx(250.0)
    # position 3*0.95 = 2.85 -> 300 + 0.85*100 = 385
    assert percentile(values, 0.95) == pytest.approx(385.0)
    assert percentile(values, 0.0) == 100.0 and percentile(values, 1.0) == 400.0
    assert percentile([7.0], 0.95) == 7.0


def test_latencies_reported_in_ms() -> None:
    s = score(GOLD, PRED, latencies_s=[0.4, 0.1, 0.3, 0.2])
    assert s.latency_p50_ms == pytest.approx(250.0)
    assert s.latency_p95_ms == pytest.approx(385.0)


@pytest.mark.parametrize(
    ("gold", "pred", "latencies", "problem"),
    [
        (GOLD, PRED[:3], None, "4 gold examples but 3 predictions"),  # one prediction short
        ([], [], None, "no examples to score"),
        (GOLD, PRED, [0.1], "1 latencies for 4 examples"),  # latencies not one per example
        (GOLD, PRED, [0.1, 0.1, -1.0, 0.1], "latencies must be finite, non-negative"),
        (GOLD, PRED, [0.1, 0.1, float("nan"), 0.1], "latencies must be finite, non-negative"),
    ],
)
def test_bad_inputs_raise(gold: list, pred: list, latencies: list | None, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        score(gold, pred, latencies_s=latencies)


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="percentile of an empty list"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match=r"quantile must be in \[0, 1\], got 1.5"):
        percentile([1.0], 1.5)


def test_normalisation_helpers() -> None:
    assert normalise_value("  New \t York ") == "new york"
    assert spans_of({"city": "Paris "}) == frozenset({("city", "paris")})


def test_scores_json_round_trip() -> None:
    s = score(GOLD, PRED, latencies_s=[0.1, 0.2, 0.3, 0.4])
    assert Scores.model_validate_json(s.model_dump_json()) == s
