"""Integration: the README's embedding snippet, run as written, and 32 threads on one `Bot`."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def readme_snippet() -> str:
    """The Python block of the README's 'Embedding in your app' section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Embedding in your app"):]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_embedding_snippet_runs_and_sets_the_alarm(real_cache_dir, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    namespace: dict = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    reply = namespace["reply"]
    assert reply.skill == "alarm" and reply.frame.intent == "alarm_set"
    assert reply.frame.slots.get("time") == "7 am" and "7 am" in reply.text
    out = capsys.readouterr().out
    assert out.splitlines()[0] == reply.text  # what the snippet printed first
    namespace["bot"].close()


@pytest.fixture(scope="module")
def bot(real_base):
    from bot.app import Bot
    from bot.config.settings import load_settings

    with Bot.from_settings(load_settings(REPO / "configs" / "default.yaml"), base=real_base) as loaded:
        yield loaded


TIMES = ["7 am", "6 am", "9 am"]  # each read right alone; the test is about 32 at once


def test_32_threads_on_distinct_conversations_all_get_their_alarm(bot):
    replies: dict[int, object] = {}
    start = threading.Barrier(32)

    def converse(n: int) -> None:
        start.wait()
        replies[n] = bot.reply(f"alarm-{n}", f"set an alarm for {TIMES[n % len(TIMES)]}")

    threads = [threading.Thread(target=converse, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert sorted(replies) == list(range(32))
    for n, reply in replies.items():
        time = TIMES[n % len(TIMES)]
        assert (reply.conversation_id, reply.skill, reply.handled) == (f"alarm-{n}", "alarm", True), reply
        assert reply.frame.slots.get("time") == time and time in reply.text, reply
    assert max(bot.understanding.batcher.batch_sizes) > 1  # the threads' reads were batched together
