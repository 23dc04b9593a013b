"""The fault scenarios of `bot bench load` with the real embedded model and the shipped skills in
the workers, CI-sized: a worker SIGKILLed with turns in flight loses, doubles and reorders nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.bench.load import LoadReport
from bot.cli import app

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.parametrize("fault", [["--kill"], ["--no-kill", "--redis-fault", "restart"],
                                   ["--no-kill", "--redis-fault", "pause"]], ids=["kill", "restart", "pause"])
def test_real_model_workers_survive_each_fault(real_cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               fault: list[str]) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    monkeypatch.chdir(REPO)  # the workers load skills/ and configs/ from here
    result = CliRunner().invoke(app, ["bench", "load", "--model", "real", "--workers", "2", "--conversations", "3",
                                      "--turns", "3", "--concurrency", "3", "--kill-at", "0.4", *fault,
                                      "--max-seconds", "240", "--report", str(tmp_path)])

    assert result.exit_code == 0, result.output
    report = LoadReport.model_validate_json((tmp_path / "load.json").read_text())
    assert report.passed and report.complete and report.problems == []
    assert (report.sent, report.acknowledged) == (9, 9)
    assert report.lost == report.duplicated == report.reordered == report.mismatched == 0
    if fault == ["--kill"]:
        assert report.killed_in_flight >= 1  # the busiest worker was killed, with turns in flight
