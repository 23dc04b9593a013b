"""`BotSettings`: the YAML file, the environment and code in one precedence; errors name the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import ENVIRONMENT, BotSettings, load_settings
from bot.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)


def write(folder: Path, text: str, name: str = "bot.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_the_defaults():
    settings = load_settings(None)
    assert settings == BotSettings() and settings.model == "default" and settings.skills_dir == Path("skills")
    assert settings.store.kind == "memory" and settings.store.lock_wait_seconds == 10.0


def test_the_shipped_config_loads_and_its_paths_exist_from_any_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(REPO / "configs" / "default.yaml")
    assert settings.skills_dir == REPO / "skills" and (settings.skills_dir / "alarm" / "skill.yaml").is_file()
    assert settings.out_of_scope_examples == REPO / "configs" / "out_of_scope.jsonl"
    assert settings.out_of_scope_examples.is_file()


def test_relative_paths_in_the_file_are_read_from_its_folder(tmp_path):
    path = write(tmp_path, "skills_dir: ../skills\nout_of_scope_examples: oos.jsonl\ncache_dir: /abs/cache\n")
    settings = load_settings(path)
    assert settings.skills_dir == tmp_path.parent / "skills"
    assert settings.out_of_scope_examples == tmp_path / "oos.jsonl" and settings.cache_dir == Path("/abs/cache")


def test_store_settings_in_the_file_include_the_lock_wait(tmp_path):
    path = write(tmp_path, "store:\n  kind: redis\n  lock_wait_seconds: 2.5\n  key_prefix: 'x:'\n")
    store = load_settings(path).store
    assert (store.kind, store.lock_wait_seconds, store.key_prefix) == ("redis", 2.5, "x:")


@pytest.mark.parametrize(("variable", "given", "expected"), [
    (None, None, "from-file"),  # the file beats the default
    ("env-model", None, "env-model"),  # the environment beats the file
    ("env-model", "code-model", "code-model"),  # code and the command line beat the environment
])
def test_precedence_is_code_then_environment_then_file_then_defaults(tmp_path, monkeypatch, variable, given,
                                                                     expected):
    path = write(tmp_path, "model: from-file\ndevice: cuda\n")
    if variable:
        monkeypatch.setenv("BOT_MODEL", variable)
    settings = load_settings(path, model=given)
    assert settings.model == expected and settings.device == "cuda"


def test_environment_fills_nested_fields_and_merges_with_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "store:\n  kind: redis\n  key_prefix: 'f:'\n")
    monkeypatch.setenv("REDIS_URL", "redis://db:6379/1")
    monkeypatch.setenv("BOT_SKILLS_DIR", "elsewhere")
    monkeypatch.setenv("BOT_DEVICE", "")  # empty counts as unset
    settings = load_settings(path)
    assert (settings.store.kind, settings.store.url, settings.store.key_prefix) == ("redis", "redis://db:6379/1", "f:")
    assert settings.skills_dir == Path("elsewhere") and settings.device == "cpu"


def test_slack_secrets_come_from_the_environment_only(tmp_path, monkeypatch):
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    settings = load_settings(None)
    assert settings.slack_secrets.signing_secret.get_secret_value() == "s3cret"
    assert settings.slack_secrets.wants_events_api() and "s3cret" not in repr(settings)
    assert "slack_secrets" not in settings.model_dump()
    path = write(tmp_path, "model: default\nslack_secrets:\n  bot_token: xoxb-2\n")
    with pytest.raises(ConfigError, match=r"bot.yaml:2: field 'slack_secrets': Slack's tokens are read from the "
                                          r"environment only"):
        load_settings(path)


def test_a_missing_file_is_an_error_not_silent_defaults(tmp_path):
    with pytest.raises(ConfigError, match=r"^\S*nope\.yaml: config file not found\n  fix: pass an existing file"):
        load_settings(tmp_path / "nope.yaml")


def test_a_bad_value_names_the_file_line_and_field(tmp_path):
    path = write(tmp_path, "model: default\nstore:\n  kind: memory\n  expiry_seconds: 0\n")
    with pytest.raises(ConfigError, match=r"bot.yaml:4: field 'store.expiry_seconds': Input should be greater"):
        load_settings(path)


def test_an_unknown_field_names_it_and_says_how_to_fix_it(tmp_path):
    path = write(tmp_path, "model: default\nskils_dir: skills\n")
    with pytest.raises(ConfigError, match=r"bot.yaml:2: field 'skils_dir': Extra inputs are not permitted\n"
                                          r"  fix: remove the field or correct its spelling"):
        load_settings(path)


def test_a_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("BOT_STORE", "mongo")
    with pytest.raises(ConfigError, match=r"^environment variable BOT_STORE: field 'store.kind'"):
        load_settings(None)


def test_the_model_dtype_comes_from_the_environment_and_is_checked(monkeypatch):
    monkeypatch.delenv("BOT_DTYPE", raising=False)  # the test session sets float32
    assert load_settings(None).dtype == "auto"
    monkeypatch.setenv("BOT_DTYPE", "float32")
    assert load_settings(None).dtype == "float32"
    monkeypatch.setenv("BOT_DTYPE", "fp8")
    with pytest.raises(ConfigError, match=r"^environment variable BOT_DTYPE: field 'dtype'"):
        load_settings(None)


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "model: default\nstore: [kind\n")
    with pytest.raises(ConfigError, match=r"bot.yaml:\d+: not valid YAML"):
        load_settings(path)


def test_with_a_file_the_default_skills_folder_is_beside_it(tmp_path, monkeypatch):
    assert load_settings(write(tmp_path, "model: default\n")).skills_dir == tmp_path / "skills"
    monkeypatch.setenv("BOT_SKILLS_DIR", "mine")  # the environment still wins, from the working folder
    assert load_settings(write(tmp_path, "model: default\n")).skills_dir == Path("mine")
