"""The TurnRunner: blocking turns on worker threads, a manager that may still be loading, and the
reply cut into the pieces a stream sends."""

from __future__ import annotations

import asyncio

import pytest
from adapter_fixtures import make_manager, wait_until

from bot.adapters.runner import NotReady, TurnHandler, TurnRunner, word_pieces
from bot.types import Reply, Turn


@pytest.mark.parametrize("text", ["Alarm set for 7 am.", "  two  spaces ", "one", "", " ", "tab\there\nnew line"])
def test_word_pieces_join_back_to_the_text(text: str) -> None:
    pieces = word_pieces(text)

    assert "".join(pieces) == text
    assert all(piece.strip() for piece in pieces) or text.strip() == ""


def test_pieces_are_words_with_their_spaces() -> None:
    assert word_pieces("For what time?") == ["For ", "what ", "time?"]


def test_stream_yields_the_pieces_then_the_reply() -> None:
    runner = TurnRunner(make_manager())

    async def collect() -> list:
        return [item async for item in runner.stream(Turn(conversation_id="c", text="set an alarm"))]

    items = asyncio.run(collect())
    runner.close()
    assert items[:-1] == ["For ", "what ", "time?"]
    assert isinstance(items[-1], Reply) and items[-1].text == "For what time?"


def test_a_runner_is_not_ready_until_built_and_reports_a_failed_build() -> None:
    def build() -> TurnHandler:
        raise ValueError("bad model path")

    failing = TurnRunner(build=build)
    failures: list[BaseException] = []

    with pytest.raises(NotReady, match="still starting"):
        _ = failing.handler
    failing.start(on_failure=failures.append)
    failing.start(on_failure=failures.append)  # a second start builds nothing more
    wait_until(lambda: len(failures) == 1)

    assert not failing.ready
    assert [str(err) for err in failures] == ["bad model path"]
    with pytest.raises(NotReady, match="start-up failed: bad model path"):
        _ = failing.handler


def test_a_closed_runner_opens_its_threads_again() -> None:
    runner = TurnRunner(make_manager())

    async def turn() -> str:
        return (await runner.run(Turn(conversation_id="c2", text="tell a joke"))).text

    first = asyncio.run(turn())
    runner.close()
    assert asyncio.run(turn()) == first == "(chat) tell a joke"
    runner.close()


def test_a_runner_wants_a_handler_or_a_build_function() -> None:
    with pytest.raises(ValueError, match="not both"):
        TurnRunner(make_manager(), build=make_manager)
    with pytest.raises(ValueError, match="not both"):
        TurnRunner()
