"""The TurnRunner: blocking turns on worker threads, a manager that may still be loading, and a
stream that passes on the reply's pieces while the turn is still being answered."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from adapter_fixtures import make_manager, wait_until

from bot.adapters.runner import NotReady, TurnHandler, TurnRunner
from bot.dialogue.pieces import word_pieces
from bot.types import Reply, Turn


@pytest.mark.parametrize("text", ["Alarm set for 7 am.", "  two  spaces ", "one", "", " ", "tab\there\nnew line"])
def test_word_pieces_join_back_to_the_text(text: str) -> None:
    pieces = word_pieces(text)

    assert "".join(pieces) == text
    assert all(piece.strip() for piece in pieces) or text.strip() == ""


def test_pieces_are_words_with_their_spaces() -> None:
    assert word_pieces("For what time?") == ["For ", "what ", "time?"]


def collect(runner: TurnRunner, text: str) -> list:
    async def items() -> list:
        return [item async for item in runner.stream(Turn(conversation_id="c", text=text))]

    return asyncio.run(items())


def test_stream_yields_a_generated_reply_in_pieces_then_the_reply() -> None:
    runner = TurnRunner(make_manager())
    items = collect(runner, "tell a joke")
    runner.close()
    assert items[:-1] == ["(chat) ", "tell ", "a ", "joke"]  # as the scripted model writes them
    assert isinstance(items[-1], Reply) and items[-1].text == "(chat) tell a joke"


def test_stream_yields_a_template_reply_whole() -> None:
    runner = TurnRunner(make_manager())
    items = collect(runner, "set an alarm")
    runner.close()
    assert items[:-1] == ["For what time?"] and items[-1].text == "For what time?"


class Halting:
    """A handler that sends one piece, then waits until the test has received it to finish."""

    def __init__(self) -> None:
        self.store = make_manager().store
        self.received, self.events = threading.Event(), []

    def handle(self, turn: Turn, on_piece: Callable[[str], None] | None = None) -> Reply:
        assert on_piece is not None
        self.events.append("sending")
        on_piece("first ")
        if not self.received.wait(10):
            raise TimeoutError("the first piece never reached the stream")
        self.events.append("finished")
        on_piece("second")
        return Reply(conversation_id=turn.conversation_id, text="first second")


def test_a_piece_reaches_the_stream_while_the_turn_is_still_running() -> None:
    handler = Halting()
    runner = TurnRunner(handler)

    async def items() -> list:
        got = []
        async for item in runner.stream(Turn(conversation_id="c", text="hi")):
            got.append(item)
            handler.events.append(f"got {item!r}" if isinstance(item, str) else "reply")
            handler.received.set()
        return got

    got = asyncio.run(items())
    runner.close()
    assert handler.events == ["sending", "got 'first '", "finished", "got 'second'", "reply"]
    assert got[:2] == ["first ", "second"] and got[2].text == "first second"


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
