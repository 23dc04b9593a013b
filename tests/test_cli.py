"""The `bot` command end to end on the tiny model: new, model, tune, predict, eval, and errors.

`CliRunner.invoke(app, ...)` calls the typer app directly, so a BotError is not turned into a
message there: it comes back as `result.exception` (exit code 1). What a user sees (`bot.cli.main`:
one red line on stderr, exit code 2) is checked by calling `main()` with `sys.argv` set.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app, main
from bot.errors import BotError, ConfigError, ModelLoadError

DATA = [
    {"text": "wake me up at 7 am", "intent": "set_alarm", "slots": {"time": "7 am"}},
    {"text": "set an alarm for 6 30", "intent": "set_alarm", "slots": {"time": "6 30"}},
    {"text": "alarm at noon please", "intent": "set_alarm", "slots": {"time": "noon"}},
    {"text": "cancel my alarm", "intent": "cancel_alarm"},
    {"text": "turn off the alarm", "intent": "cancel_alarm"},
    {"text": "no alarm tomorrow", "intent": "cancel_alarm", "slots": {"time": "tomorrow"}},
    {"text": "weather in paris", "intent": "weather", "slots": {"place": "paris"}},
    {"text": "will it snow tonight", "intent": "weather", "slots": {"time": "tonight"}},
]
TUNING = {"method": "deep_prompt", "virtual_tokens": 4, "batch_size": 4, "eval_every": 2, "dev_fraction": 0.25,
          "steps": 50}


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def write_data(folder: Path) -> Path:
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DATA), encoding="utf-8")
    return path


def add_tuning(skill: Path) -> None:
    config = yaml.safe_load((skill / "skill.yaml").read_text())
    config["tuning"] = TUNING
    (skill / "skill.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def in_workspace(monkeypatch, tmp_path, tiny_model_dir):
    """A fresh folder as cwd (no configs/default.yaml, so defaults apply) with BOT_MODEL = tiny model."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_MODEL", str(tiny_model_dir))
    return tmp_path


@pytest.fixture(scope="module")
def tuned_workspace(tmp_path_factory, tiny_model_dir):
    """skills/demo made by `bot new` from a JSONL file, then tuned by `bot tune --steps 4`."""
    root = tmp_path_factory.mktemp("workspace")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("BOT_MODEL", str(tiny_model_dir))
        new = invoke("new", "demo", "--data", str(write_data(root)))
        add_tuning(root / "skills" / "demo")
        tune = invoke("tune", "skills/demo", "--steps", "4")
    return root, new, tune


def test_new_creates_the_skill_from_data(tuned_workspace):
    root, new, _ = tuned_workspace
    ok(new)
    skill = root / "skills" / "demo"
    config = yaml.safe_load((skill / "skill.yaml").read_text())
    assert config["name"] == "demo"
    assert sorted(i["name"] for i in config["intents"]) == ["cancel_alarm", "set_alarm", "weather"]
    assert sorted(s["name"] for s in config["slots"]) == ["place", "time"]
    lines = (skill / "examples.jsonl").read_text().splitlines()
    assert len(lines) == len(DATA)
    assert "bot tune" in new.stderr


def test_new_twice_refuses(in_workspace):
    ok(invoke("new", "demo"))
    before = (in_workspace / "skills" / "demo" / "skill.yaml").read_text()
    again = invoke("new", "demo")
    assert again.exit_code != 0 and isinstance(again.exception, ConfigError)
    assert "already exists" in str(again.exception)
    assert (in_workspace / "skills" / "demo" / "skill.yaml").read_text() == before


def test_model_prints_parameters_and_fingerprint(in_workspace, tiny_base, tiny_model_dir):
    info = json.loads(ok(invoke("model")))
    assert info["parameters"] == tiny_base.parameter_count
    assert info["fingerprint"] == tiny_base.fingerprint
    assert info["model"] == info["path"] == str(tiny_model_dir)
    assert info["dtype"] == "float32"  # BOT_DTYPE, set for the test session


def test_model_runs_in_the_dtype_the_environment_names(in_workspace, tiny_base, monkeypatch):
    monkeypatch.setenv("BOT_DTYPE", "bfloat16")
    info = json.loads(ok(invoke("model")))
    assert info["dtype"] == "bfloat16" and info["fingerprint"] == tiny_base.fingerprint


def test_model_option_overrides_the_environment(in_workspace, tmp_path):
    result = invoke("model", "--model", str(tmp_path / "missing"))
    assert isinstance(result.exception, ModelLoadError)


def test_tune_writes_the_table_and_prints_json(tuned_workspace, tiny_base):
    root, _, tune = tuned_workspace
    out = ok(tune)
    info = json.loads(out[out.index("{"):])  # see test_tune_stdout_is_only_json
    table = root / "skills" / "demo" / "table"
    assert info["table"] == str(Path("skills/demo/table")) and info["steps"] == 4
    assert info["table_bytes"] == sum(p.stat().st_size for p in table.iterdir()) > 0
    for name in ("adapter_config.json", "adapter_model.safetensors", "manifest.json"):
        assert (table / name).is_file()
    manifest = json.loads((table / "manifest.json").read_text())
    assert manifest["base_fingerprint"] == tiny_base.fingerprint and manifest["virtual_tokens"] == 4
    assert manifest["settings"]["steps"] == 4  # --steps overrides tuning.steps (50)


def test_tune_stdout_is_only_json(tuned_workspace):
    _, _, tune = tuned_workspace
    json.loads(ok(tune))


def test_predict_prints_a_frame(tuned_workspace, tiny_model_dir, monkeypatch):
    root, _, _ = tuned_workspace
    monkeypatch.chdir(root)
    monkeypatch.setenv("BOT_MODEL", str(tiny_model_dir))
    text = "wake me up at 9 pm please"
    for mode in ([], ["--mode", "zero_shot"]):
        frame = json.loads(ok(invoke("predict", "skills/demo", text, *mode)))
        assert frame["intent"] in {"set_alarm", "cancel_alarm", "weather"}
        assert set(frame.get("slots", {})) <= {"time", "place"}
        assert all(v in text for v in frame.get("slots", {}).values())
        assert 0 <= frame["confidence"] <= 1


def test_eval_all_modes_writes_a_report(tuned_workspace, tiny_model_dir, monkeypatch):
    root, _, _ = tuned_workspace
    monkeypatch.chdir(root)
    monkeypatch.setenv("BOT_MODEL", str(tiny_model_dir))
    out = ok(invoke("eval", "skills/demo", "--mode", "all", "--limit", "4", "--report", "out"))
    for mode in ("zero_shot", "few_shot", "chain_of_thought", "tuned"):
        assert mode in out
    assert "frame" in out and "mode" in out  # the summary table (narrow columns are elided at 80 chars)
    report = root / "out"
    assert (report / "report.json").is_file() and (report / "report.md").is_file()
    assert len(list(report.glob("*.png"))) == 4
    saved = json.loads((report / "report.json").read_text())
    assert "tuned" in json.dumps(saved)


def test_tune_without_examples_fails_with_a_bot_error(in_workspace):
    ok(invoke("new", "empty"))
    (in_workspace / "skills" / "empty" / "examples.jsonl").write_text("")
    result = invoke("tune", "skills/empty", "--steps", "1")
    assert result.exit_code != 0
    assert isinstance(result.exception, BotError), repr(result.exception)
    assert "examples" in str(result.exception)


def _tuned_skill_without_table(root: Path) -> None:
    invoke("new", "bare", "--data", str(write_data(root)))
    assert yaml.safe_load((root / "skills" / "bare" / "skill.yaml").read_text())["mode"] == "tuned"


def test_tuned_skill_without_table_fails_naming_the_table(in_workspace):
    _tuned_skill_without_table(in_workspace)
    for command in (["predict", "skills/bare", "hello"], ["eval", "skills/bare"]):
        result = invoke(*command)
        assert result.exit_code != 0
        assert isinstance(result.exception, ConfigError), command
        assert "table" in str(result.exception) and "bot tune" in str(result.exception)


def test_main_turns_a_bot_error_into_exit_code_2_and_one_message(in_workspace, monkeypatch, capsys):
    _tuned_skill_without_table(in_workspace)
    monkeypatch.setattr(sys, "argv", ["bot", "predict", "skills/bare", "hello"])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 2
    err = "".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "error:" in err and "Traceback" not in err  # (after transformers' own 'Loading weights' bar)
    assert "table" in err and "manifest.json" in err and "bottune" in err


CONFIG_COMMANDS = [["model"], ["tune"], ["skills"], ["chat"], ["serve"], ["predict"], ["eval"],
                   ["bench", "compare"], ["bench", "serve"]]
# commands whose settings are read before anything else, so a bad --config is their first error
SETTINGS_FIRST = [["model"], ["skills"], ["chat"], ["serve"], ["bench", "serve"], ["tune", "--router"]]


@pytest.mark.parametrize("command", CONFIG_COMMANDS, ids=" ".join)
def test_every_command_that_reads_config_takes_config(command):
    assert "--config" in ok(invoke(*command, "--help"))


def run_main(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["bot", *argv])
    with pytest.raises(SystemExit) as caught:
        main()
    return caught.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", SETTINGS_FIRST, ids=" ".join)
def test_a_missing_config_file_is_one_clear_error(command, in_workspace, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, *command, "--config", "nowhere/bot.yaml")
    flat = " ".join(err.split())  # rich wraps long lines
    assert code == 2 and "Traceback" not in err
    assert flat.startswith("error: nowhere/bot.yaml: config file not found fix: pass an existing file")


@pytest.mark.parametrize("command", SETTINGS_FIRST, ids=" ".join)
def test_a_bad_field_is_one_clear_error_naming_file_line_and_field(command, in_workspace, monkeypatch, capsys):
    (in_workspace / "bot.yaml").write_text("model: default\nstore:\n  kind: memory\n  lock_wait_seconds: -1\n")
    code, err = run_main(monkeypatch, capsys, *command, "--config", "bot.yaml")
    flat = " ".join(err.split())
    assert code == 2 and "Traceback" not in err
    assert flat.startswith("error: bot.yaml:4: field 'store.lock_wait_seconds': Input should be greater than or "
                           "equal to 0 fix: correct the value")


def test_skills_outside_the_project_folder_says_what_is_missing(in_workspace, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, "skills")
    flat = " ".join(err.split())
    assert code == 2 and "Traceback" not in err
    assert flat.startswith("error: skills: field 'skills_dir': skills folder not found (looked in")
    assert "pass --config" in flat


def test_skills_from_another_folder_with_config_lists_the_skills_and_the_router(in_workspace, monkeypatch,
                                                                               tmp_path_factory, make_skill):
    project = tmp_path_factory.mktemp("project")
    for name in ("alarms", "weather", "_router"):
        (project / "skills" / name).mkdir(parents=True)
        raw = make_skill(name="router" if name == "_router" else name).model_dump(mode="json", exclude_none=True)
        (project / "skills" / name / "skill.yaml").write_text(yaml.safe_dump(raw))
    (project / "configs").mkdir()
    (project / "configs" / "bot.yaml").write_text("skills_dir: ../skills\n")
    monkeypatch.setenv("COLUMNS", "200")
    out = ok(invoke("skills", "--config", str(project / "configs" / "bot.yaml")))
    names = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") > 2]
    assert names == ["alarms", "weather", "router"]  # the skills, then the router


def test_loading_the_model_prints_nothing_on_stderr(tmp_path, tiny_model_dir):
    import os
    import subprocess

    env = {**os.environ, "BOT_MODEL": str(tiny_model_dir)}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "model"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == str(tiny_model_dir)
    assert done.stderr == ""  # no 'Loading weights' bar, no library FutureWarning


def test_chat_with_a_table_of_another_model_is_one_clear_error_before_any_turn(tuned_workspace, tmp_path, tokenizer,
                                                                              make_tiny_model, monkeypatch, capsys):
    root, _, _ = tuned_workspace
    other = tmp_path / "other-model"  # same shapes and vocabulary, other weights: another fingerprint
    make_tiny_model(len(tokenizer), seed=1).save_pretrained(other)
    tokenizer.save_pretrained(other)
    monkeypatch.chdir(root)
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("a turn was asked for"))
    capsys.readouterr()  # saving the other model wrote its own progress bar
    code, err = run_main(monkeypatch, capsys, "chat", "--model", str(other))
    flat = " ".join(err.split())
    assert code == 2 and "Traceback" not in err
    # (in this process transformers was imported before main() could turn its progress bars off)
    assert "error: skills/demo/table: table was tuned on base model" in flat
    assert "fix: load that model, or re-tune the skill with `bot tune`" in flat


def test_serve_and_chat_build_their_bot_through_the_composition_root(monkeypatch, tmp_path, tiny_model_dir,
                                                                      make_skill, examples):
    from bot.app import Bot

    skill = tmp_path / "skills" / "alarms"
    skill.mkdir(parents=True)
    (skill / "skill.yaml").write_text(yaml.safe_dump(
        make_skill().model_dump(mode="json", exclude_none=True) | {"mode": "zero_shot"}))
    (skill / "examples.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in examples))
    (tmp_path / "bot.yaml").write_text(f"model: {tiny_model_dir}\nfallback_reply: none of mine\n")
    built: list = []
    monkeypatch.setattr("bot.adapters.server.serve", lambda build, settings, **_: built.append(build()))
    monkeypatch.setattr("bot.adapters.shell.run_shell", lambda manager, **_: built.append(manager))
    monkeypatch.chdir(Path("/"))  # any folder: the config file's folder holds skills/
    ok(invoke("serve", "--config", str(tmp_path / "bot.yaml")))
    ok(invoke("chat", "--config", str(tmp_path / "bot.yaml")))
    served, chatted = built
    assert isinstance(served, Bot) and list(served.skills) == ["alarms"]
    assert served.settings.fallback_reply == chatted.fallback_reply == "none of mine"
    assert served.reply("c1", "wake me up at 7 am").skill == "alarms"
    served.close()


def test_skills_lists_a_skill_with_a_damaged_table_and_says_what_to_do(in_workspace, monkeypatch, capsys):
    ok(invoke("new", "demo", "--data", str(write_data(in_workspace))))
    (in_workspace / "skills" / "demo" / "table").mkdir()
    (in_workspace / "skills" / "demo" / "table" / "manifest.json").write_text("{not json")
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["bot", "skills"])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 0
    captured = capsys.readouterr()
    rows = [line.split("│")[1].strip() for line in captured.out.splitlines() if line.count("│") > 2]
    assert rows == ["demo"]
    assert " ".join(captured.err.split()).startswith("warning: demo: skills/demo/table/manifest.json")
