"""Two OS processes, each with its own DialogueManager and RedisStore, share one conversation.

The issue's acceptance item: "Two processes sharing one Redis continue the same conversation
alternately without losing or reordering a turn." The workers are real `spawn` processes on a real
redis-server (the `redis_url` fixture of tests/conftest.py); no model is loaded,
a ScriptedUnderstanding answers in microseconds.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence

import pytest

from bot.config import SkillConfig
from bot.dialogue import DialogueManager, Rule, ScriptedUnderstanding
from bot.dialogue.tracking import REPLY_MEMORY
from bot.store import StoreSettings
from bot.types import ConversationState, HistoryEntry, Turn

SPAWN = multiprocessing.get_context("spawn")
HISTORY_TURNS = 50  # the manager keeps 2 * 50 entries: every turn of every test below
ANSWER_SECONDS = 60.0  # generous: the machine may be busy; a healthy turn takes milliseconds
READ_DELAY_SECONDS = 0.002  # inside the lock, between load and save: widens any lost-update race


COUNTER = SkillConfig.model_validate({
    "name": "counter",
    "slots": [{"name": "n"}],
    "intents": [{"name": "count", "required_slots": ["n"], "response": "got {n}"},
                {"name": "echo", "generate": True}],  # the reply names the process that wrote it
})
RULES = [Rule(r"turn (?P<n>\d+)", "counter", "count"), Rule(r"^say ", "counter", "echo")]


class SlowUnderstanding(ScriptedUnderstanding):
    """The scripted rules, with a short pause in `read` (which the manager calls under the lock)."""

    def read(self, skill, text, history):
        time.sleep(READ_DELAY_SECONDS)
        return super().read(skill, text, history)


def serve(name: str, url: str, prefix: str, conn, barrier) -> None:
    """A worker process: its own manager and store; answers commands from the test over `conn`.

    ("turn", conversation_id, text, turn_id) -> the reply's text.
    ("burst", conversation_id, [(text, turn_id), ...]) -> (reply texts, start, end) of the turns,
    handled one after another as fast as possible once both workers reached `barrier`.
    """
    store = None
    try:
        from bot.store.redis import RedisStore

        store = RedisStore(StoreSettings(kind="redis", url=url, key_prefix=prefix, lock_wait_seconds=30))
        store.ping()
        understanding = SlowUnderstanding(RULES, generated=f"{name} heard: {{text}}")
        manager = DialogueManager({"counter": COUNTER}, understanding, store,
                                  history_turns=HISTORY_TURNS)
        conn.send(("ok", os.getpid()))
        while (message := conn.recv()) is not None:
            kind, conversation_id, *args = message
            if kind == "turn":
                text, turn_id = args
                reply = manager.handle(Turn(conversation_id=conversation_id, text=text, turn_id=turn_id))
                conn.send(("ok", reply.text))
            elif kind == "burst":
                (turns,) = args
                barrier.wait(timeout=ANSWER_SECONDS)
                started = time.time()
                texts = [manager.handle(Turn(conversation_id=conversation_id, text=text,
                                             turn_id=turn_id)).text for text, turn_id in turns]
                conn.send(("ok", (texts, started, time.time())))
            else:
                raise ValueError(f"unknown command {kind!r}")
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        if store is not None:
            store.close()


class Worker:
    """The test's end of one worker process."""

    def __init__(self, name: str, url: str, prefix: str, barrier) -> None:
        self.name = name
        self.conn, child_end = SPAWN.Pipe()
        self.process = SPAWN.Process(target=serve, args=(name, url, prefix, child_end, barrier),
                                     name=f"dialogue-worker-{name}", daemon=True)
        self.process.start()
        child_end.close()
        self.pid: int | None = None

    def send(self, *message: object) -> None:
        self.conn.send(message)

    def result(self) -> object:
        if not self.conn.poll(ANSWER_SECONDS):
            pytest.fail(f"worker {self.name} did not answer within {ANSWER_SECONDS:g} s "
                        f"(alive: {self.process.is_alive()})")
        try:
            status, value = self.conn.recv()
        except EOFError:
            self.process.join(timeout=5)
            pytest.fail(f"worker {self.name} died (exit code {self.process.exitcode})")
        if status == "error":
            pytest.fail(f"worker {self.name} failed:\n{value}")
        return value

    def turn(self, conversation_id: str, text: str, turn_id: str) -> str:
        self.send("turn", conversation_id, text, turn_id)
        return self.result()

    def stop(self) -> None:
        try:
            self.send(None)
        except OSError:
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.conn.close()


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"dialogue-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="module")
def workers(redis_url: str, prefix: str) -> Iterator[tuple[Worker, Worker]]:
    """Processes A and B, started once for this module (spawn costs about a second each)."""
    barrier = SPAWN.Barrier(2)
    pair = (Worker("A", redis_url, prefix, barrier), Worker("B", redis_url, prefix, barrier))
    try:
        for worker in pair:
            worker.pid = worker.result()
        assert len({os.getpid(), *(worker.pid for worker in pair)}) == 3, "three distinct processes"
        yield pair
    finally:
        for worker in pair:
            worker.stop()


@pytest.fixture
def load_state(redis_url: str, prefix: str) -> Iterator:
    """Reads a conversation through a third RedisStore, owned by the test process."""
    from bot.store.redis import RedisStore

    with RedisStore(StoreSettings(kind="redis", url=redis_url, key_prefix=prefix)) as store:
        yield store.load


def exchange(user: str, bot: str) -> list[HistoryEntry]:
    return [HistoryEntry(role="user", text=user), HistoryEntry(role="bot", text=bot)]


def pairs(history: Sequence[HistoryEntry]) -> list[tuple[str, str]]:
    """The history as (user text, bot text) pairs; fails if any turn's two entries were split."""
    roles = [entry.role for entry in history]
    assert roles == ["user", "bot"] * (len(history) // 2), f"entries interleaved: {roles}"
    return [(history[i].text, history[i + 1].text) for i in range(0, len(history), 2)]


def test_two_processes_continue_one_conversation_alternately(
        workers: tuple[Worker, Worker], load_state) -> None:
    conversation, turns = f"alternate-{uuid.uuid4().hex[:8]}", 40
    replies = []
    for number in range(1, turns + 1):
        worker = workers[(number - 1) % 2]  # A, B, A, B, ...: each waits for the other's answer
        replies.append(worker.turn(conversation, f"turn {number}", f"{conversation}-t{number}"))

    assert replies == [f"got {number}" for number in range(1, turns + 1)]
    state = load_state(conversation)
    expected = [entry for number in range(1, turns + 1)
                for entry in exchange(f"turn {number}", f"got {number}")]
    assert state.history == expected  # nothing lost, nothing reordered, nothing doubled
    assert state.turns == turns
    assert state.waiting_for is None and state.active_skill is None
    assert state.replies == {f"{conversation}-t{number}": f"got {number}"
                             for number in range(turns - REPLY_MEMORY + 1, turns + 1)}


def test_two_processes_hammering_one_conversation_lose_no_turn(
        workers: tuple[Worker, Worker], load_state) -> None:
    conversation, each = f"hammer-{uuid.uuid4().hex[:8]}", 25
    numbers = {"A": range(1, each + 1), "B": range(101, 101 + each)}
    for worker in workers:
        worker.send("burst", conversation,
                    [(f"turn {n}", f"{conversation}-{worker.name}{n}") for n in numbers[worker.name]])
    results = {worker.name: worker.result() for worker in workers}

    for name, (texts, _, _) in results.items():
        assert texts == [f"got {n}" for n in numbers[name]], f"replies to {name}"
    starts = [started for _, started, _ in results.values()]
    ends = [ended for _, _, ended in results.values()]
    assert max(starts) < min(ends), "the two bursts did not overlap: nothing ran concurrently"

    state = load_state(conversation)
    assert state.turns == 2 * each and len(state.history) == 2 * (2 * each)
    kept = pairs(state.history)
    for user, bot in kept:  # each user turn is followed by its own reply, not the other process's
        assert bot == user.replace("turn", "got"), (user, bot)
    order = [int(user.split()[1]) for user, _ in kept]
    assert sorted(order) == [*numbers["A"], *numbers["B"]]  # every turn once
    for name in ("A", "B"):  # each process's turns in the order it sent them
        assert [n for n in order if n in numbers[name]] == list(numbers[name])


def test_redelivered_turn_id_repeats_the_reply_without_a_second_entry(
        workers: tuple[Worker, Worker], load_state) -> None:
    a, b = workers
    conversation = f"redeliver-{uuid.uuid4().hex[:8]}"

    # The echo intent's reply names the process that generated it, so a reply that was repeated
    # from the store ("A heard") differs from one computed afresh in B ("B heard").
    first = a.turn(conversation, "say hello", "evt-1")
    assert first == "A heard: say hello"
    assert b.turn(conversation, "say hello", "evt-1") == first  # the other process, same turn id
    assert a.turn(conversation, "say hello", "evt-1") == first  # and the first one again
    state = load_state(conversation)
    assert state.history == exchange("say hello", first) and state.turns == 1

    # The conversation goes on normally after the redelivery.
    assert b.turn(conversation, "turn 2", "evt-2") == "got 2"
    state = load_state(conversation)
    assert state.history == [*exchange("say hello", first), *exchange("turn 2", "got 2")]
    assert state.turns == 2


def test_a_turn_delivered_to_both_processes_at_once_is_answered_once(
        workers: tuple[Worker, Worker], load_state) -> None:
    conversation, count = f"race-{uuid.uuid4().hex[:8]}", 10
    turns = [(f"say {n}", f"{conversation}-r{n}") for n in range(1, count + 1)]
    for worker in workers:  # the same ten turns, same ids, to both processes at the same moment
        worker.send("burst", conversation, turns)
    (a_texts, _, _), (b_texts, _, _) = (worker.result() for worker in workers)

    assert a_texts == b_texts  # whichever process answered a turn first, both return its reply
    for n, text in enumerate(a_texts, start=1):
        assert text in (f"A heard: say {n}", f"B heard: say {n}")
    state: ConversationState = load_state(conversation)
    assert pairs(state.history) == [(f"say {n}", text) for n, text in enumerate(a_texts, start=1)]
    assert state.turns == count
