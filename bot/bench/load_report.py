"""What a load test is asked (LoadSettings) and what it found (LoadReport), and how a report is shown
(a terminal table, load.md and load.json); the driver that runs it is bot/bench/load.py."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from rich.table import Table

from bot.bench.load_worker import REAL_TEXTS

__all__ = ["LoadReport", "LoadSettings", "load_table", "write_load_report"]

MODEL_NOTES = {"scripted": "The model is scripted: this measures serving and the store.",
               "real": "The workers run the embedded model and the shipped skills."}


class LoadSettings(BaseModel):
    """One load test; `command()` is the `bot bench load` line that repeats it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int = Field(default=3, ge=1)
    conversations: int = Field(default=1000, ge=1)
    turns: int = Field(default=5, ge=1)  # per conversation, sent one after another
    concurrency: int = Field(default=64, ge=1)  # requests in flight over all workers
    kill: bool = True
    kill_at: float = Field(default=0.3, gt=0, lt=1)  # share of all turns acknowledged before the kill
    max_seconds: float = Field(default=300.0, gt=0)  # no new request after this; the run then reports
    redis_url: str | None = None  # None: start a throwaway redis-server
    seed: int = 0
    lock_timeout_seconds: float = Field(default=5.0, gt=0)  # how long a killed worker's lock outlives it
    lock_wait_seconds: float = Field(default=2.0, ge=0)
    request_seconds: float = Field(default=10.0, gt=0)  # one request's timeout
    turn_seconds: float = Field(default=60.0, gt=0)  # how long one turn is retried before giving up
    model: Literal["scripted", "real"] = "scripted"  # real: the embedded model and the shipped skills
    # At kill_at, also: SIGKILL redis-server and start it again (its append-only file on), or
    # SIGSTOP it for pause_seconds (longer than the store's 2 s socket timeout).
    redis_fault: Literal["none", "restart", "pause"] = "none"
    pause_seconds: float = Field(default=3.0, gt=0)

    @model_validator(mode="after")
    def _possible(self) -> LoadSettings:
        if self.kill and self.workers < 2:
            raise ValueError("killing a worker needs at least 2 workers (the clients retry on the others)")
        if self.redis_fault != "none" and self.redis_url:
            raise ValueError("--redis-fault restarts or pauses the redis-server the test starts; drop --redis-url")
        if self.model == "real" and self.turns > len(REAL_TEXTS):
            raise ValueError(f"--model real sends at most {len(REAL_TEXTS)} turns per conversation")
        return self

    def command(self) -> str:
        kill = "--kill" if self.kill else "--no-kill"
        options = (("kill_at", f"{self.kill_at:g}", "0.3"), ("model", self.model, "scripted"),
                   ("redis_fault", self.redis_fault, "none"))
        extra = "".join(f" --{name.replace('_', '-')} {value}" for name, value, default in options if value != default)
        return (f"bot bench load --workers {self.workers} --conversations {self.conversations} --turns "
                f"{self.turns} --concurrency {self.concurrency} {kill} --max-seconds {self.max_seconds:g}{extra}")

    def text(self, cid: str, number: int) -> str:
        """What turn `number` of conversation `cid` says (distinct within the conversation)."""
        return REAL_TEXTS[number - 1] if self.model == "real" else f"turn {number} of {cid}"


class LoadReport(BaseModel):
    """What the clients saw and what the store holds; `passed` means no turn lost, doubled or reordered."""

    model_config = ConfigDict(extra="forbid")

    settings: LoadSettings
    command: str
    machine: str
    sent: int  # turns sent at least once
    acknowledged: int  # turns answered with a 200
    retried: int  # turns that needed more than one request
    retries: int  # extra requests in all
    retry_causes: dict[str, int]  # e.g. {"ReadError": 12, "ConnectError": 30, "503": 4}
    failed: int  # turns given up after turn_seconds of retries
    unfinished: int  # turns not acknowledged because max_seconds ran out (or an earlier turn failed)
    lost: int  # acknowledged, but not in the stored conversation
    duplicated: int  # applied more than once
    reordered: int  # applied after a turn sent later
    mismatched: int  # a reply naming the wrong turn number, or a stored reply differing from it
    killed_port: int | None
    killed_after: int | None  # turns acknowledged when the worker was killed
    killed_in_flight: int | None  # requests it had been sent and not yet answered
    repeated: int  # retries answered with the reply stored by an earlier delivery (which was applied)
    unanswered: int  # retries of a turn whose earlier delivery did not apply it (killed, or busy: 503)
    throughput: float  # acknowledged turns per second of driving
    p50_ms: float
    p95_ms: float
    max_ms: float
    drive_seconds: float
    wall_seconds: float
    problems: list[str] = Field(default_factory=list)  # the first few, for a person to read

    @property
    def passed(self) -> bool:
        return not (self.lost or self.duplicated or self.reordered or self.mismatched or self.failed)

    @property
    def complete(self) -> bool:
        return self.unfinished == 0 and self.acknowledged == self.settings.conversations * self.settings.turns


def _rows(report: LoadReport) -> list[tuple[str, str]]:
    causes = ", ".join(f"{cause} {count}" for cause, count in report.retry_causes.items()) or "none"
    killed = (f"port {report.killed_port} after {report.killed_after} turns, {report.killed_in_flight} "
              "requests in flight to it" if report.killed_port else "none")
    return [
        ("workers / conversations x turns", f"{report.settings.workers} / {report.settings.conversations} x "
                                            f"{report.settings.turns} ({report.settings.concurrency} in flight)"),
        ("worker killed", killed),
        ("turns sent / acknowledged", f"{report.sent:,} / {report.acknowledged:,}"),
        ("turns retried (extra requests)", f"{report.retried:,} ({report.retries:,}: {causes})"),
        ("retries answered from the store / applied now", f"{report.repeated} / {report.unanswered}"),
        ("lost / duplicated / reordered", f"{report.lost} / {report.duplicated} / {report.reordered}"),
        ("mismatched / failed / unfinished", f"{report.mismatched} / {report.failed} / {report.unfinished}"),
        ("throughput", f"{report.throughput:,.0f} turns/s" if report.throughput >= 10
                       else f"{report.throughput:.2f} turns/s"),
        ("turn latency p50 / p95 / max", f"{report.p50_ms:.0f} / {report.p95_ms:.0f} / {report.max_ms:.0f} ms"),
        ("wall time (driving)", f"{report.wall_seconds:.1f} s ({report.drive_seconds:.1f} s)"),
        ("result", ("PASSED" if report.passed else "FAILED") + ("" if report.complete else " (incomplete)")),
    ]


def load_table(report: LoadReport) -> Table:
    """The report as a two-column terminal table."""
    table = Table(title="bot bench load", show_header=False)
    for name, value in _rows(report):
        table.add_row(name, value)
    return table


def write_load_report(folder: Path, report: LoadReport) -> list[Path]:
    """load.json (reloads as a LoadReport) and load.md; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "load.json", folder / "load.md"
    json_path.write_text(report.model_dump_json(indent=2) + "\n")
    lines = ["# Load test: several workers on one Redis", "", f"`{report.command}`", "",
             f"Machine: {report.machine}. " + MODEL_NOTES[report.settings.model], "",
             "| what | value |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in _rows(report))]
    if report.problems:
        lines += ["", "## Problems (first few)", "", *(f"- {problem}" for problem in report.problems)]
    md_path.write_text("\n".join(lines) + "\n")
    return [md_path, json_path]
