"""`Bot`, the composition root, on the tiny model: load, reply, areply, stream, read, threads, errors."""

from __future__ import annotations

import asyncio
import threading

import pytest
import yaml

from bot import Bot
from bot.config.settings import load_settings
from bot.errors import BotError, ConfigError
from bot.store import MemoryStore

TEXTS = ["wake me up at 7 am", "weather in paris", "cancel my alarm", "will it snow tonight"]


def write_skill(root, config, examples, *, mode: str = "zero_shot") -> None:
    root.mkdir(parents=True, exist_ok=True)
    raw = config.model_dump(mode="json", exclude_none=True) | {"mode": mode}
    (root / "skill.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    (root / "examples.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in examples), encoding="utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory, skill_config, examples):
    """A project folder: skills/alarms (zero-shot, so the tiny model needs no table) and a config."""
    root = tmp_path_factory.mktemp("project")
    write_skill(root / "skills" / "alarms", skill_config, examples)
    (root / "configs").mkdir()
    (root / "configs" / "bot.yaml").write_text("skills_dir: ../skills\nfallback_reply: nothing here\n")
    return root


@pytest.fixture(scope="module")
def bot(project, tiny_base):
    with Bot.from_settings(load_settings(project / "configs" / "bot.yaml"), base=tiny_base) as loaded:
        yield loaded


def test_load_reads_the_config_from_any_folder_and_loads_every_skill(project, tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the project folder: paths come from the config file's folder
    with Bot.load(config=project / "configs" / "bot.yaml", model=str(tiny_model_dir)) as loaded:
        assert list(loaded.skills) == ["alarms"] and loaded.router is None
        assert loaded.model_name == str(tiny_model_dir)
        assert loaded.settings.fallback_reply == "nothing here"
        assert loaded.reply("c1", "wake me up at 7 am").skill == "alarms"


def test_reply_answers_with_the_skill_and_keeps_the_conversation(bot):
    reply = bot.reply("keeps", "wake me up at 7 am", user_id="ann", turn_id="t1")
    assert reply.conversation_id == "keeps" and reply.skill == "alarms" and reply.handled
    assert reply.frame.intent in {"set_alarm", "cancel_alarm", "weather"}
    assert bot.store.load("keeps").turns == 1
    again = bot.reply("keeps", "wake me up at 7 am", turn_id="t1")  # a retry: the same reply, no new turn
    assert again.text == reply.text and bot.store.load("keeps").turns == 1


def test_stream_pieces_join_to_the_reply_of_a_fresh_conversation(bot):
    pieces = list(bot.stream("stream-a", TEXTS[0]))
    assert "".join(pieces) == bot.reply("stream-b", TEXTS[0]).text
    assert bot.store.load("stream-a").history == bot.store.load("stream-b").history  # stored alike


@pytest.fixture(scope="module")
def chat_bot(tmp_path_factory, tiny_base, make_skill):
    """A bot whose one skill generates every reply with the tiny model (free text)."""
    root = tmp_path_factory.mktemp("chat")
    config = make_skill(name="chat", slots=[], intents=[{"name": "chat", "generate": True}])
    write_skill(root / "skills" / "chat", config, [])
    with Bot.from_settings(load_settings(None, skills_dir=root / "skills"), base=tiny_base) as loaded:
        yield loaded


def test_a_generated_reply_streams_token_by_token_and_is_stored_as_if_not_streamed(chat_bot):
    reply = chat_bot.reply("plain", "hello there")
    pieces = list(chat_bot.stream("streamed", "hello there"))
    assert "".join(pieces) == reply.text and len(pieces) >= 2  # pieces of the generated text, not one
    plain, streamed = chat_bot.store.load("plain"), chat_bot.store.load("streamed")
    assert streamed.model_dump(exclude={"conversation_id"}) == plain.model_dump(exclude={"conversation_id"})


def test_the_first_piece_arrives_before_the_model_writes_the_last_token(chat_bot, monkeypatch):
    import bot.model.understanding as understanding

    events: list[str] = []
    steps = understanding.greedy_line_tokens

    def recorded(*args, **kwargs):
        for step in steps(*args, **kwargs):
            events.append("token")
            yield step

    monkeypatch.setattr(understanding, "greedy_line_tokens", recorded)
    for piece in chat_bot.stream("order", "hello there"):
        events.append("piece")
    tokens = events.count("token")
    assert tokens >= 2 and events.index("piece") < tokens  # a piece went out before the last token was made


def test_astream_passes_generated_pieces_on(chat_bot):
    async def main():
        return [piece async for piece in chat_bot.astream("async-chat", "hello there")]

    pieces = asyncio.run(main())
    assert len(pieces) >= 2 and "".join(pieces) == chat_bot.reply("async-plain", "hello there").text


def test_areply_runs_the_turn_off_the_event_loop_thread(bot, monkeypatch):
    threads: list[threading.Thread] = []
    handle = bot.manager.handle
    def recorded(turn, on_piece=None):
        threads.append(threading.current_thread())
        return handle(turn, on_piece)

    monkeypatch.setattr(bot.manager, "handle", recorded)

    async def main():
        loop_thread = threading.current_thread()
        reply = await bot.areply("async-a", TEXTS[1])
        pieces = [piece async for piece in bot.astream("async-b", TEXTS[1])]
        return loop_thread, reply, pieces

    loop_thread, reply, pieces = asyncio.run(main())
    assert len(threads) == 2 and loop_thread not in threads
    assert reply.skill == "alarms" and "".join(pieces) == reply.text


def test_read_understands_without_touching_the_conversation(bot):
    frame = bot.read(TEXTS[0])
    assert frame == bot.read(TEXTS[0], skill="alarms")
    assert frame == bot.understanding.read("alarms", TEXTS[0], ())
    with pytest.raises(BotError, match=r"no skill 'music' is loaded \(loaded: alarms\)"):
        bot.read(TEXTS[0], skill="music")


def test_32_threads_on_distinct_conversations_get_the_replies_they_get_alone(project, tiny_base):
    settings = load_settings(project / "configs" / "bot.yaml")
    with Bot.from_settings(settings, base=tiny_base, store=MemoryStore()) as shared:
        alone = {text: shared.reply(f"alone-{n}", text).text for n, text in enumerate(TEXTS)}
        shared.understanding.batcher.batch_sizes.clear()
        replies: dict[int, object] = {}
        start = threading.Barrier(32)

        def converse(n: int) -> None:
            start.wait()
            replies[n] = shared.reply(f"thread-{n}", TEXTS[n % len(TEXTS)])

        threads = [threading.Thread(target=converse, args=(n,)) for n in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(replies) == list(range(32))
        for n, reply in replies.items():
            assert reply.conversation_id == f"thread-{n}" and reply.handled
            assert reply.text == alone[TEXTS[n % len(TEXTS)]]
        assert max(shared.understanding.batcher.batch_sizes) > 1  # the threads' reads shared batches


def test_missing_skills_folder_is_a_clear_error(tmp_path, tiny_model_dir):
    with pytest.raises(ConfigError, match=r"skills folder not found \(looked in .*nowhere\)"):
        Bot.load(tmp_path / "nowhere", config=None, model=str(tiny_model_dir))


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml: config file not found"):
        Bot.load(config=tmp_path / "missing.yaml")


def test_a_bad_skill_names_its_file_and_field(tmp_path, skill_config, examples, tiny_base):
    write_skill(tmp_path / "skills" / "broken", skill_config, examples)
    path = tmp_path / "skills" / "broken" / "skill.yaml"
    path.write_text(path.read_text().replace("mode: zero_shot", "mode: telepathy"))
    with pytest.raises(ConfigError, match=r"broken/skill.yaml:\d+: field 'mode'"):
        Bot.from_settings(load_settings(None, skills_dir=tmp_path / "skills"), base=tiny_base)


def test_a_tuned_skill_without_its_table_fails_at_load_not_at_the_first_turn(tmp_path, skill_config, examples,
                                                                              tiny_base):
    write_skill(tmp_path / "skills" / "untuned", skill_config, examples, mode="tuned")
    with pytest.raises(BotError, match="table"):
        Bot.from_settings(load_settings(None, skills_dir=tmp_path / "skills"), base=tiny_base)
