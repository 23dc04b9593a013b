"""The comparison as a terminal table, Markdown, JSON and one PNG chart, plus per-system details.

`compare.json` reloads as a `BenchReport`; `details/` is `bot eval`'s own report (per-intent rows
and confusion matrices) with one section per system.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.box import SIMPLE_HEAD
from rich.table import Table

from bot.bench.results import BenchReport, SystemResult
from bot.tuning.report import write_report

__all__ = ["COLUMNS", "comparison_rows", "comparison_table", "load_bench_report", "write_bench_report"]

COLUMNS = ("system", "n train", "n eval", "intent %", "slot F1 %", "frame %", "train s", "on disk",
           "peak MB", "p50 ms", "p95 ms")
MB = 1024 * 1024


def _bytes(count: int) -> str:
    for unit, size in (("GB", 1024 ** 3), ("MB", MB), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def _short(value: float) -> str:
    """One decimal below 100, none above (keeps the terminal table within 80 columns)."""
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def comparison_rows(report: BenchReport) -> list[list[str]]:
    """One row of formatted cells per system, in COLUMNS order."""
    pct = lambda ratio: f"{100 * ratio:.1f}"  # noqa: E731
    return [[name, str(r.n_train), str(r.n_eval), pct(r.intent_accuracy), pct(r.slot_f1),
             pct(r.frame_accuracy), _short(r.train_seconds), _bytes(r.disk_bytes),
             f"{r.peak_rss_bytes / MB:.0f}", _short(r.latency_p50_ms), _short(r.latency_p95_ms)]
            for name, r in report.systems.items()]


def comparison_table(report: BenchReport) -> Table:
    """The comparison as a rich Table for the terminal (same columns as compare.md)."""
    table = Table(title=report.title, box=SIMPLE_HEAD, padding=0, show_edge=False)
    table.add_column(COLUMNS[0], no_wrap=True)
    for column in COLUMNS[1:]:
        table.add_column(column.replace(" ", "\n", 1), justify="right", no_wrap=True)
    for row in comparison_rows(report):
        table.add_row(*row)
    return table


def write_bench_report(directory: Path, report: BenchReport) -> list[Path]:
    """compare.json, compare.md, compare.png and details/ (bot eval's report per system)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "compare.json"
    json_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    paths = [json_path, _write_markdown(directory / "compare.md", report), _plot(directory / "compare.png", report)]
    details = {name: result.scores for name, result in report.systems.items()}
    return paths + write_report(directory / "details", details, title=report.title)


def load_bench_report(path: Path) -> BenchReport:
    """Reload compare.json (validating every number's range again)."""
    return BenchReport.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = [list(header), ["---"] + ["---:"] * (len(header) - 1), *rows]
    return ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in line) + " |" for line in lines]


def _write_markdown(path: Path, report: BenchReport) -> Path:
    data = report.data
    lines = [f"# {report.title}", "", f"Train: {data.train_source}, {data.n_train} examples (de-duplicated). ",
             f"Evaluation: {data.eval_source}, {data.n_eval} examples"
             f" ({data.eval_train_overlap} of them also in the training split).", "",
             *_md_table(COLUMNS, comparison_rows(report)), "", "![comparison](compare.png)", "",
             "## How it was measured", "", *[f"- {note}" for note in report.notes],
             f"- Machine: {_inline(report.machine)}.", "", "## Systems", ""]
    for name, result in report.systems.items():
        lines += [f"- **{name}** ({result.label}): peak RSS {result.peak_rss_bytes / MB:.0f} MB "
                  f"(baseline {result.baseline_rss_bytes / MB:.0f} MB), evaluation {result.eval_seconds:.0f} s, "
                  f"latency from {result.latency_turns} turns, on disk: {', '.join(result.disk_files)}; "
                  f"{_inline(result.details)}."]
    lines += ["", "Per-intent scores and confusion matrices: [details/report.md](details/report.md)."]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _inline(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{key} {json.dumps(value)}" for key, value in mapping.items())


def _plot(path: Path, report: BenchReport) -> Path:
    """Quality, training time, size on disk and latency, one panel each (Agg canvas, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = list(report.systems.values())
    figure = Figure(figsize=(16, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    quality, train, disk, latency = figure.subplots(1, 4)
    _quality_panel(quality, results)
    _bar_panel(train, results, [r.train_seconds for r in results], "training time (s)")
    _bar_panel(disk, results, [r.disk_bytes / MB for r in results], "on disk (MB, log)", log=True)
    _bar_panel(latency, results, [r.latency_p50_ms for r in results], "latency p50 ms (p95 marked, log)",
               log=True, marks=[r.latency_p95_ms for r in results])
    figure.suptitle(report.title)
    figure.savefig(path, format="png")
    return path


def _quality_panel(axes: Any, results: list[SystemResult]) -> None:
    metrics = (("intent acc", "intent_accuracy"), ("slot F1", "slot_f1"), ("frame acc", "frame_accuracy"))
    width = 0.8 / len(metrics)
    for i, (label, field) in enumerate(metrics):
        xs = [x + (i - 1) * width for x in range(len(results))]
        bars = axes.bar(xs, [100 * getattr(r, field) for r in results], width, label=label)
        axes.bar_label(bars, fmt="%.0f", fontsize=7)
    axes.set_xticks(range(len(results)), [r.system for r in results], rotation=20)
    axes.set_ylim(0, 100)
    axes.set_title("quality (%)")
    axes.legend(fontsize=8)


def _bar_panel(axes: Any, results: list[SystemResult], values: list[float], title: str, *,
               log: bool = False, marks: list[float] | None = None) -> None:
    xs = range(len(results))
    bars = axes.bar(xs, [max(v, 1e-3) if log else v for v in values], color="tab:gray")
    axes.bar_label(bars, labels=[f"{v:,.0f}" if v >= 10 else f"{v:.2g}" for v in values], fontsize=7)
    if marks:
        axes.scatter(xs, marks, marker="_", s=300, color="tab:red", zorder=3)
    if log:
        axes.set_yscale("log")
    axes.set_xticks(xs, [r.system for r in results], rotation=20)
    axes.set_title(title)
