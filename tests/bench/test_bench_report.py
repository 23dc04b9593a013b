from __future__ import annotations

import json

from rich.console import Console

from bot.bench.report import COLUMNS, comparison_table, load_bench_report, write_bench_report
from bot.bench.results import BenchReport, DataSummary, SystemResult, SystemRun
from bot.tuning.metrics import score
from bot.types import Frame


def fake_report(examples) -> BenchReport:
    gold = examples[:6]
    frames = [Frame(intent=e.intent if i % 2 else "weather", slots=e.slots, confidence=0.5)
              for i, e in enumerate(gold)]
    scores = score(gold, frames, latencies_s=[0.01 * (i + 1) for i in range(6)])
    systems = {}
    for name, disk in (("bert", 183_000_000), ("tuned", 744_000)):
        run = SystemRun(label=name, n_train=50, scores=scores, train_seconds=12.5, eval_seconds=1.0,
                        disk_bytes=disk, disk_files=["x"], latency_turns=6, details={"steps": 3})
        systems[name] = SystemResult.of(name, run, peak_rss=900_000_000, baseline_rss=400_000_000)
    data = DataSummary(train_source="t", eval_source="e", n_train=50, n_eval=6, carved=True, eval_train_overlap=0)
    return BenchReport(title="demo", created="now", data=data, settings={"seed": 0}, machine={"cpus": 2},
                       notes=["a note"], systems=systems)


def test_report_files_reload_and_read(tmp_path, examples_for_bench):
    report = fake_report(examples_for_bench)
    paths = write_bench_report(tmp_path, report)
    names = {p.relative_to(tmp_path).as_posix() for p in paths}
    assert {"compare.json", "compare.md", "compare.png", "details/report.json", "details/report.md"} <= names
    assert load_bench_report(tmp_path / "compare.json") == report
    markdown = (tmp_path / "compare.md").read_text()
    assert "| " + " | ".join(COLUMNS) + " |" in markdown
    assert "174.5 MB" in markdown and "726.6 KB" in markdown and "a note" in markdown
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert set(json.loads((tmp_path / "details" / "report.json").read_text())["modes"]) == {"bert", "tuned"}


def test_terminal_table_has_a_row_per_system(examples_for_bench):
    console = Console(width=80, record=True)
    console.print(comparison_table(fake_report(examples_for_bench)))
    text = console.export_text()
    assert "bert" in text and "tuned" in text and "174.5 MB" in text and "…" not in text  # fits 80 columns
