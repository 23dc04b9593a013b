"""bot.tuning.report writes JSON, Markdown and PNG files that say what the scores say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from bot.tuning.metrics import Scores, score
from bot.tuning.report import SUMMARY_COLUMNS, summary_table, write_report
from bot.types import Example, Frame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _scores(wrong: int, latencies: list[float] | None = None) -> Scores:
    gold = [Example(text="-", intent=i, slots={"x": "1"}) for i in ("a", "b", "c", "d")]
    pred = [Frame(intent="a" if k < wrong else e.intent, slots=e.slots, confidence=1.0)
            for k, e in enumerate(gold)]
    return score(gold, pred, latencies_s=latencies)


def test_single_scores(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "out"
    # 'b' predicted as 'a' -> intent 3/4 = 75.0 %, slots all right -> 100.0 %
    paths = write_report(target, _scores(2, [0.4, 0.1, 0.3, 0.2]), title="Demo")
    assert [p.name for p in paths] == ["report.json", "report.md", "confusion_default.png"]
    assert all(p.is_file() for p in paths)
    md = (target / "report.md").read_text(encoding="utf-8")
    assert "# Demo" in md
    assert "| " + " | ".join(SUMMARY_COLUMNS) + " |" in md
    assert "| default | 4 | 75.0 | 100.0 | 100.0 | 100.0 | 75.0 | 250.0 | 385.0 |" in md
    assert "| intent | support | intent acc % | slot F1 % | frame acc % |" in md
    assert "| b | 1 | 0.0 | 100.0 | 0.0 |" in md
    assert "| gold \\ predicted | a | b | c | d |" in md
    assert "| b | 1 | 0 | 0 | 0 |" in md


def test_ladder_json_round_trips(tmp_path: Path) -> None:
    ladder = {"zero_shot": _scores(3), "few_shot": _scores(1), "tuned": _scores(0)}
    paths = write_report(tmp_path, ladder, title="Ladder")
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["title"] == "Ladder"
    assert list(data["modes"]) == list(ladder)
    for mode, expected in ladder.items():
        assert Scores.model_validate(data["modes"][mode]) == expected
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    # zero_shot: b, c predicted as a -> 2/4 right = 50.0 %; latency unknown -> '-'
    assert "| zero_shot | 4 | 50.0 | 100.0 | 100.0 | 100.0 | 50.0 | - | - |" in md
    assert md.index("## zero_shot") < md.index("## few_shot") < md.index("## tuned")
    assert {p.name for p in paths} >= {f"confusion_{m}.png" for m in ladder}


def test_png_is_a_real_image(tmp_path: Path) -> None:
    gold = [Example(text="-", intent=f"intent_{i:02d}") for i in range(64)]
    pred = [Frame(intent=f"intent_{(i * 7) % 64:02d}", confidence=1.0) for i in range(64)]
    png = write_report(tmp_path, score(gold, pred), title="64 labels")[-1]
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 20_000


def test_colliding_or_empty_modes_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mode names \['a b', 'a/b'\] collide"):
        write_report(tmp_path, {"a b": _scores(0), "a/b": _scores(0)}, title="x")
    with pytest.raises(ValueError, match="no scores to report"):
        write_report(tmp_path, {}, title="x")


def test_summary_table_has_the_same_columns() -> None:
    table = summary_table({"zero_shot": _scores(3), "tuned": _scores(0)}, title="Ladder")
    assert [c.header for c in table.columns] == list(SUMMARY_COLUMNS)
    assert table.row_count == 2
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "zero_shot" in text and "50.0" in text
