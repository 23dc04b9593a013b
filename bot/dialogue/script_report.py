"""The scripted-dialogue report: a Markdown table per category, the failing turns, and JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.table import Table

from bot.dialogue.script_run import CHECKS, CategoryScore, DialogueResult

__all__ = ["COLUMNS", "markdown_table", "score_rows", "score_table", "write_dialogue_report"]

COLUMNS = ("category", "dialogues", "conversation acc %", "turns", "turn acc %",
           *(f"{name} %" for name in CHECKS))


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def score_rows(scores: Mapping[str, CategoryScore]) -> list[list[str]]:
    """One row per category (same columns as COLUMNS); a check no turn asked for reads '-'."""
    return [[s.category, str(s.dialogues), _pct(s.dialogues_passed, s.dialogues), str(s.turns),
             _pct(s.turns_passed, s.turns),
             *(_pct(*s.checks.get(name, [0, 0])) for name in CHECKS)] for s in scores.values()]


def markdown_table(scores: Mapping[str, CategoryScore]) -> str:
    """The scores as a Markdown table (what the terminal prints, never cut to its width)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in score_rows(scores)])


def score_table(scores: Mapping[str, CategoryScore], *, title: str | None = None) -> Table:
    table = Table(*COLUMNS, title=title)
    for row in score_rows(scores):
        table.add_row(*row)
    return table


def write_dialogue_report(directory: Path, scores: Mapping[str, CategoryScore],
                          results: Sequence[DialogueResult], *, title: str) -> list[Path]:
    """Write dialogues.md and dialogues.json under `directory`; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    markdown, data = directory / "dialogues.md", directory / "dialogues.json"
    markdown.write_text(_markdown(scores, results, title), encoding="utf-8")
    data.write_text(json.dumps(_json(scores, results, title), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return [markdown, data]


def _markdown(scores: Mapping[str, CategoryScore], results: Sequence[DialogueResult], title: str) -> str:
    lines = [f"# {title}", "", markdown_table(scores)]
    failing = [r for r in results if not r.passed]
    lines += ["", f"## Failing dialogues ({len(failing)} of {len(results)})"]
    for result in failing:
        lines += ["", f"### {result.dialogue.name} ({result.dialogue.category})", ""]
        for turn in result.turns:
            mark = "ok" if turn.passed else "FAIL " + ", ".join(turn.failed)
            shown = turn.describe()
            lines.append(f"- `{turn.script.user}` → `{turn.reply.text}` [{mark}]; got skill "
                         f"{shown['skill']}, intent {shown['intent']}, slots {shown['slots']}; "
                         f"expected {shown['expected']}")
    return "\n".join(lines) + "\n"


def _json(scores: Mapping[str, CategoryScore], results: Sequence[DialogueResult], title: str) -> dict:
    return {
        "title": title,
        "categories": {name: {"dialogues": s.dialogues, "dialogues_passed": s.dialogues_passed,
                              "conversation_accuracy": s.dialogue_accuracy, "turns": s.turns,
                              "turns_passed": s.turns_passed, "turn_accuracy": s.turn_accuracy,
                              "checks": {k: {"passed": v[0], "asked": v[1]} for k, v in s.checks.items()}}
                       for name, s in scores.items()},
        "dialogues": [{"name": r.dialogue.name, "category": r.dialogue.category, "passed": r.passed,
                       "turns": [t.describe() for t in r.turns]} for r in results],
    }
