"""A streamed turn: the manager passes a generated reply on piece by piece as it is written, sends
the rest of the reply when the turn is done, and stores exactly what an unstreamed turn stores."""

from __future__ import annotations

import threading

import pytest
from dialogue_fixtures import RULES, skill_set

from bot.config.dialogue import DialogueSettings
from bot.dialogue import DialogueManager, ScriptedUnderstanding
from bot.store import MemoryStore
from bot.types import Turn

SKILLS = skill_set(__name__)


def explode(frame, state) -> str:  # the tools skill's actions (unused here)
    raise RuntimeError("unused")


count_turns = explode


def manager(understanding: ScriptedUnderstanding | None = None) -> DialogueManager:
    return DialogueManager(SKILLS, understanding or ScriptedUnderstanding(RULES), MemoryStore(),
                           policy=DialogueSettings(switch_confidence=0.8))


def streamed(bot: DialogueManager, conversation: str, *texts: str) -> list[list[str]]:
    """Each turn's pieces, checked to join to the turn's reply."""
    turns = []
    for text in texts:
        pieces: list[str] = []
        reply = bot.handle(Turn(conversation_id=conversation, text=text), pieces.append)
        assert "".join(pieces) == reply.text
        turns.append(pieces)
    return turns


@pytest.mark.parametrize("texts", [
    ["tell me a joke"],
    ["set an alarm", "tell me a joke", "7 am"],  # a digression that generates, then the request resumes
    ["alarm for 7 am", "8 pm"],  # a follow-up
    ["set an alarm", "cancel", "book a table for 2 at 8 pm"],
])
def test_a_streamed_conversation_is_stored_as_the_same_conversation_unstreamed(texts) -> None:
    bot = manager()
    streamed(bot, "streamed", *texts)
    replies = [bot.handle(Turn(conversation_id="plain", text=text)).text for text in texts]
    plain, live = bot.store.load("plain"), bot.store.load("streamed")
    assert live.model_dump(exclude={"conversation_id"}) == plain.model_dump(exclude={"conversation_id"})
    assert [entry.text for entry in live.history if entry.role == "bot"] == replies


def test_a_generated_reply_comes_word_by_word_a_template_reply_whole() -> None:
    bot = manager()
    assert streamed(bot, "c", "tell me a joke", "set an alarm") == [["(chat) ", "tell ", "me ", "a ", "joke"],
                                                                     ["For what time?"]]


def test_what_follows_a_generated_reply_comes_after_its_pieces() -> None:
    bot = manager()
    _, digressed = streamed(bot, "c", "set an alarm", "tell me a joke")
    assert digressed == ["(chat) ", "tell ", "me ", "a ", "joke", " Back to your alarms request: For what time?"]


def test_a_follow_up_sends_its_opening_before_the_reply() -> None:
    bot = manager()
    _, follow_up = streamed(bot, "c", "alarm for 7 am", "8 pm")
    assert follow_up[0] == "Updated your last request (time: 7 am → 8 pm). "
    assert "".join(follow_up[1:]) == "Alarm set for 8 pm."


class Failing(ScriptedUnderstanding):
    """Writes two words of its reply, then fails."""

    def generate(self, skill, text, history, on_piece=None):
        for piece in ["Once ", "upon"]:
            on_piece(piece)
        raise RuntimeError("the model fell over")


def test_a_turn_that_fails_mid_reply_sends_the_apology_on_a_new_line_and_stores_only_it() -> None:
    bot = manager(Failing(RULES))
    pieces: list[str] = []
    reply = bot.handle(Turn(conversation_id="c", text="tell me a joke"), pieces.append)
    assert reply.text == bot.error_reply
    assert pieces == ["Once ", "upon", "\n" + bot.error_reply]
    assert [e.text for e in bot.store.load("c").history] == ["tell me a joke", bot.error_reply]


def test_concurrent_streamed_turns_get_only_their_own_pieces() -> None:
    bot = manager()
    got: dict[int, list[str]] = {}
    start = threading.Barrier(8)

    def converse(n: int) -> None:
        start.wait()
        got[n] = []
        bot.handle(Turn(conversation_id=f"c{n}", text=f"tell joke {n}"), got[n].append)

    threads = [threading.Thread(target=converse, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert got == {n: ["(chat) ", "tell ", "joke ", f"{n}"] for n in range(8)}
