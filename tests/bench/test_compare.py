"""The quick path end to end through `bot bench compare`, on a tiny random LLM and a tiny random
BERT: every system in its own process, the report's structure, and every number in range."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from bot.bench.isolate import _measured, peak_rss_bytes
from bot.bench.report import load_bench_report
from bot.cli import app
from bot.errors import BotError, DataError

SYSTEMS = {"bert", "zero_shot", "few_shot", "tuned"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, jointbert_data, tiny_bert_dir, tiny_model_dir):
    out = tmp_path_factory.mktemp("bench") / "report"
    args = ["bench", "compare", "--quick", "--data", str(jointbert_data), "--eval-data", str(jointbert_data),
            "--eval-split", "dev", "--max-steps", "4", "--encoder", str(tiny_bert_dir),
            "--model", str(tiny_model_dir), "--threads", "1", "--report", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result, out


def test_prints_the_table(quick_run):
    result, _ = quick_run
    for name in SYSTEMS:
        assert name in result.stdout


def test_report_structure_and_ranges(quick_run):
    _, out = quick_run
    for name in ("compare.json", "compare.md", "compare.png", "details/report.md"):
        assert (out / name).is_file()
    report = load_bench_report(out / "compare.json")  # validates every range again
    assert set(report.systems) == SYSTEMS
    assert report.data.n_train == 45 and report.data.n_eval == 16 and not report.data.carved
    raw = json.loads((out / "compare.json").read_text())
    for name, system in raw["systems"].items():
        for key in ("intent_accuracy", "slot_precision", "slot_recall", "slot_f1", "frame_accuracy"):
            assert 0.0 <= system[key] <= 1.0, (name, key)
        for key in ("train_seconds", "eval_seconds", "latency_p50_ms", "latency_p95_ms"):
            assert math.isfinite(system[key]) and system[key] >= 0.0, (name, key)
        assert system["latency_p95_ms"] >= system["latency_p50_ms"] > 0
        assert system["disk_bytes"] > 0 and system["peak_rss_bytes"] >= system["baseline_rss_bytes"] > 0
        assert system["n_train"] == 45
    systems = report.systems
    assert systems["bert"].n_eval == systems["tuned"].n_eval == 16  # --quick: max_eval 24 > 16
    assert systems["zero_shot"].n_eval == systems["few_shot"].n_eval == 4  # --quick: prompted_eval 4
    assert systems["zero_shot"].train_seconds == 0 and systems["tuned"].train_seconds > 0
    assert 1 <= systems["tuned"].details["steps"] <= systems["tuned"].details["tuning"]["steps"] == 4
    assert systems["bert"].details["steps"]["intent"] == 4
    assert systems["tuned"].disk_files == ["skill.yaml", "table"]
    assert systems["few_shot"].disk_bytes > systems["zero_shot"].disk_bytes  # + examples.jsonl
    assert systems["bert"].disk_bytes > systems["tuned"].disk_bytes


def _fail() -> None:
    raise DataError("data.jsonl", "bad input", line=3, fix="fix it")


def test_errors_of_a_system_come_back_as_plain_bot_errors():
    """Its subclasses take keyword arguments and would not unpickle in the parent (checked in-process:
    every child costs seconds of imports)."""
    with pytest.raises(BotError, match="bad input") as caught:
        _measured(_fail)
    assert type(caught.value) is BotError and peak_rss_bytes() > 0
