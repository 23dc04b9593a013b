"""Evaluation reports a person can read (Markdown, PNG, terminal) and a program can reload (JSON).

One `Scores`, or a mapping mode name -> `Scores` (the prompting ladder: zero_shot, few_shot,
chain_of_thought, tuned), so the modes sit side by side in one summary table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from bot.tuning.metrics import Scores

__all__ = ["DEFAULT_MODE", "SUMMARY_COLUMNS", "summary_table", "write_report"]

DEFAULT_MODE = "default"
"""Mode name given to a single `Scores` (it names the section and `confusion_default.png`)."""

SUMMARY_COLUMNS = ("mode", "n", "intent acc %", "slot P %", "slot R %", "slot F1 %",
                   "frame acc %", "p50 ms", "p95 ms")
INTENT_COLUMNS = ("intent", "support", "intent acc %", "slot F1 %", "frame acc %")

_CELL_INCHES = 0.3      # side of one confusion cell; the figure grows with the label count
_MAX_GRID_INCHES = 40.0  # beyond ~130 labels cells shrink instead, and fonts with them
_MARGIN_INCHES = 3.5     # room for tick labels, axis titles and the colour bar


def write_report(directory: Path, scores: Scores | Mapping[str, Scores], *,
                 title: str) -> list[Path]:
    """Write report.json, report.md and one confusion_<mode>.png per mode; return their paths."""
    modes = _as_modes(scores)
    stems = _file_stems(modes)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [_write_json(directory / "report.json", modes, title),
             _write_markdown(directory / "report.md", modes, stems, title)]
    for mode, result in modes.items():
        png = directory / f"confusion_{stems[mode]}.png"
        paths.append(_plot_confusion(png, result, title=f"{title} - {mode}"))
    return paths


def summary_table(scores: Scores | Mapping[str, Scores], *, title: str | None = None) -> Table:
    """The summary as a rich Table, for printing in the terminal (same columns as report.md)."""
    modes = _as_modes(scores)
    table = Table(title=title)
    table.add_column(SUMMARY_COLUMNS[0], no_wrap=True, min_width=max(map(len, map(str, modes))))
    for column in SUMMARY_COLUMNS[1:]:
        table.add_column(column, justify="right")
    for row in _summary_rows(modes):
        table.add_row(*row)
    return table


def _as_modes(scores: Scores | Mapping[str, Scores]) -> dict[str, Scores]:
    modes = {DEFAULT_MODE: scores} if isinstance(scores, Scores) else dict(scores)
    if not modes:
        raise ValueError("no scores to report; pass a Scores or a non-empty mapping of them")
    for mode, result in modes.items():
        if not isinstance(result, Scores):
            raise TypeError(f"mode '{mode}': expected Scores, got {type(result).__name__}")
    return modes


def _file_stems(modes: Mapping[str, Scores]) -> dict[str, str]:
    """Mode names made safe for file names; a collision is an error, not an overwrite."""
    stems = {mode: re.sub(r"[^A-Za-z0-9_.-]+", "_", str(mode)).strip(".") or "_" for mode in modes}
    if len(set(stems.values())) != len(stems):
        raise ValueError(f"mode names {sorted(modes)} collide once made safe for file names")
    return stems


def _pct(ratio: float) -> str:
    return f"{100.0 * ratio:.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _summary_rows(modes: Mapping[str, Scores]) -> list[list[str]]:
    return [[mode, str(s.n), _pct(s.intent_accuracy), _pct(s.slot_precision), _pct(s.slot_recall),
             _pct(s.slot_f1), _pct(s.frame_accuracy), _ms(s.latency_p50_ms), _ms(s.latency_p95_ms)]
            for mode, s in modes.items()]


def _write_json(path: Path, modes: Mapping[str, Scores], title: str) -> Path:
    data: dict[str, Any] = {"title": title,
                            "modes": {mode: s.model_dump(mode="json") for mode, s in modes.items()}}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table; the first column left-aligned, the (numeric) rest right-aligned."""
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = [header, align, *rows]
    return ["| " + " | ".join(_md_cell(str(c)) for c in line) + " |" for line in lines]


def _write_markdown(path: Path, modes: Mapping[str, Scores], stems: Mapping[str, str],
                    title: str) -> Path:
    lines = [f"# {title}", "", "## Summary", "", *_md_table(SUMMARY_COLUMNS, _summary_rows(modes))]
    for mode, result in modes.items():
        lines += ["", f"## {mode}", "", *_mode_section(result, stems[mode])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _mode_section(result: Scores, stem: str) -> list[str]:
    rows = [[r.intent, str(r.support), _pct(r.intent_accuracy), _pct(r.slot_f1),
             _pct(r.frame_accuracy)] for r in result.per_intent]
    labels, matrix = result.confusion.labels, result.confusion.matrix
    confusion = [[label, *map(str, counts)] for label, counts in zip(labels, matrix)]
    return ["### Per intent", "", *_md_table(INTENT_COLUMNS, rows), "",
            "### Confusion (rows: gold, columns: predicted)", "",
            *_md_table(["gold \\ predicted", *labels], confusion), "",
            f"![confusion matrix]({'confusion_' + stem + '.png'})"]


def _figure_geometry(n_labels: int) -> tuple[float, float]:
    """Figure side (inches) and font size (points) so ~64 labels stay legible."""
    grid = min(max(_CELL_INCHES * n_labels, 3.0), _MAX_GRID_INCHES)
    font = min(10.0, max(3.0, 0.45 * 72.0 * grid / max(n_labels, 1)))
    return grid + _MARGIN_INCHES, font


def _plot_confusion(path: Path, result: Scores, *, title: str) -> Path:
    """Draw with the Agg canvas directly: no pyplot, no global backend switch, no display needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    labels, matrix = result.confusion.labels, result.confusion.matrix
    side, font = _figure_geometry(len(labels))
    figure = Figure(figsize=(side, side), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues", vmin=0, interpolation="nearest")
    _label_axes(axes, labels, font)
    _annotate_counts(axes, matrix, font)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.6, ticks=MaxNLocator(integer=True))
    figure.savefig(path, format="png")
    return path


def _label_axes(axes: Any, labels: Sequence[str], font: float) -> None:
    ticks = range(len(labels))
    axes.set_xticks(ticks, labels, rotation=90, fontsize=font)
    axes.set_yticks(ticks, labels, fontsize=font)
    axes.set_xlabel("predicted intent")
    axes.set_ylabel("gold intent")


def _annotate_counts(axes: Any, matrix: Sequence[Sequence[int]], font: float) -> None:
    """Write each non-zero count in its cell (zeros left blank so errors stand out)."""
    darkest = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                colour = "white" if count > darkest / 2 else "black"
                axes.text(j, i, str(count), ha="center", va="center", fontsize=font, color=colour)
