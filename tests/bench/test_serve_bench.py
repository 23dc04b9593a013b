"""`bot bench serve` on the tiny model: both batching modes at each level, numbers in range."""

from __future__ import annotations

import json

import yaml

from bot.bench.serve import bench_serve, serve_table, write_serve_report
from bot.config import SkillConfig
from bot.skills.skill import load_skill
from bot.types import Example


def write_skill(root, raw: dict, examples: list[Example]):
    root.mkdir(parents=True)
    (root / "skill.yaml").write_text(yaml.safe_dump(raw | {"mode": "zero_shot"}), encoding="utf-8")
    (root / "examples.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in examples), encoding="utf-8")
    return load_skill(root)


def test_bench_serve_measures_both_modes_at_each_level(tmp_path, runtime, skill_config, examples):
    alarms = write_skill(tmp_path / "alarms", skill_config.model_dump(mode="json", exclude_none=True), examples)
    router_raw = {"name": "router", "description": "Pick the skill.",
                  "intents": [{"name": "alarms", "description": "alarms and weather"}], "slots": []}
    router = write_skill(tmp_path / "_router", router_raw,
                         [Example(text=e.text, intent="alarms") for e in examples])
    report = bench_serve(runtime, {"alarms": alarms}, router, levels=(1, 4), max_batch=4, wait_seconds=0.05,
                         turns_per_conversation=1, model_name="tiny")
    assert [(l.batching, l.concurrency) for l in report.levels] == [
        ("one_at_a_time", 1), ("one_at_a_time", 4), ("batched", 1), ("batched", 4)]
    for level in report.levels:
        assert level.turns >= 4 and level.seconds > 0 and level.turns_per_second > 0
        assert 0 < level.latency_p50_ms <= level.latency_p95_ms
        assert level.decode_tokens_per_second > 0
    assert report.level("one_at_a_time", 4).mean_batch == 1.0
    assert 1.0 < report.level("batched", 4).mean_batch <= 4.0  # concurrent reads shared batches
    assert report.speedup(4) > 0 and report.p95_over_single(4) > 0
    paths = write_serve_report(tmp_path / "out", report)
    data = json.loads(paths[0].read_text())
    assert set(data["summary"]) == {"1", "4"} and len(data["levels"]) == 4
    assert "| batched | 4 |" in serve_table(report) and "| batched | 4 |" in paths[1].read_text()
