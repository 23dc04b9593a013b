"""`bot bench serve` on the tiny model, built through `Bot`: both batching modes at each level."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.bench.serve import MIN_TURNS, bench_serve, serve_table, write_serve_report
from bot.config.settings import load_settings
from bot.types import Example


def write_skill(root, raw: dict, examples: list[Example]) -> None:
    root.mkdir(parents=True)
    (root / "skill.yaml").write_text(yaml.safe_dump(raw | {"mode": "zero_shot"}), encoding="utf-8")
    (root / "examples.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in examples), encoding="utf-8")


def test_bench_serve_measures_both_modes_at_each_level(tmp_path, tiny_base, skill_config, examples):
    skills = tmp_path / "skills"
    write_skill(skills / "alarms", skill_config.model_dump(mode="json", exclude_none=True), examples)
    router_raw = {"name": "router", "description": "Pick the skill.",
                  "intents": [{"name": "alarms", "description": "alarms and weather"}], "slots": []}
    write_skill(skills / "_router", router_raw, [Example(text=e.text, intent="alarms") for e in examples])
    report = bench_serve(load_settings(None, skills_dir=skills), base=tiny_base, levels=(1, 4), max_batch=4,
                         wait_seconds=0.05, gather_seconds=5.0, turns_per_conversation=1)
    assert report.model == tiny_base.name and report.skills == ["alarms"]
    assert [(l.batching, l.concurrency) for l in report.levels] == [
        ("one_at_a_time", 1), ("one_at_a_time", 4), ("batched", 1), ("batched", 4)]
    for level in report.levels:
        assert level.turns == MIN_TURNS  # 1 conversation x 16 turns, 4 x 4
        assert level.turns_per_second == pytest.approx(level.turns / level.seconds)
        assert level.latency_p50_ms <= level.latency_p95_ms <= level.seconds * 1000  # no turn outlasts its level
        assert level.decode_tokens_per_second * level.seconds >= 2 * level.turns  # a route and a read per turn
    assert report.level("one_at_a_time", 4).mean_batch == 1.0
    assert 1.0 < report.level("batched", 4).mean_batch <= 4.0  # concurrent reads shared batches
    one, batched = report.level("one_at_a_time", 4), report.level("batched", 4)
    assert set(one.batch_sizes) == {1} and one.batch_sizes[1] >= 2 * one.turns  # >= a route and a read per turn
    # the four conversations start together and wait for each other's reads: their routes meet
    assert max(batched.batch_sizes) == 4 and sum(batched.batch_sizes.values()) < one.batch_sizes[1]
    one, batched = report.level("one_at_a_time", 4), report.level("batched", 4)
    assert report.speedup(4) == pytest.approx(batched.turns_per_second / one.turns_per_second)
    assert report.cpu_saving(4) == pytest.approx(
        (one.cpu_seconds / one.turns) / (batched.cpu_seconds / batched.turns))
    assert report.p95_over_single(4) == pytest.approx(
        batched.latency_p95_ms / report.level("one_at_a_time", 1).latency_p50_ms)
    paths = write_serve_report(tmp_path / "out", report)
    data = json.loads(paths[0].read_text())
    assert set(data["summary"]) == {"1", "4"} and len(data["levels"]) == 4
    assert "| batched | 4 | 16 |" in serve_table(report) and "| batched | 4 | 16 |" in paths[1].read_text()
    cpu_per_turn = f"| {batched.cpu_seconds * 1000 / batched.turns:.0f} |\n"  # CPU ms a turn, the last column
    assert batched.cpu_seconds != 0 and cpu_per_turn in serve_table(report).split("| batched | 4 |")[1]
    # measured without a level of one conversation, the table says what the p95 lacks instead of failing
    alone = report.model_copy(update={"levels": [l for l in report.levels if l.concurrency == 4]})
    assert "add 1 to --levels" in serve_table(alone) and "batched throughput" in serve_table(alone)
