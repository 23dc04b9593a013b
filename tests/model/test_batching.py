"""Mixed-skill batching, request batching across threads, and the per-skill prefix cache."""

from __future__ import annotations

import threading
import time

import pytest
import torch
import yaml

from bot.config import PromptMode, TuningConfig
from bot.model.batching import ReadBatcher
from bot.model.prefix_cache import ReaderCache, prefix_bytes
from bot.model.reader import FrameReader
from bot.model.readers import read_mixed, reader_for
from bot.skills.skill import load_skill
from bot.tuning.tune import tune_table

TEXTS = ["wake me up at 7 am", "weather in paris", "cancel my alarm", "will it snow tonight",
         "is it raining in london today", "set alarm tomorrow at 8"]


def write_skill(root, config, examples, mode: PromptMode):
    root.mkdir(parents=True, exist_ok=True)
    raw = config.model_dump(mode="json", exclude_none=True)
    raw["mode"] = mode.value
    (root / "skill.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    (root / "examples.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in examples), encoding="utf-8")
    return load_skill(root)


def tune_into(skill, base, model_dir, seed: int) -> None:
    tune_table(base, skill.config, skill.examples(), model_dir=str(model_dir), out_dir=skill.table_dir,
               settings=TuningConfig(steps=3, batch_size=4, eval_every=3, dev_fraction=0.25, virtual_tokens=4,
                                     seed=seed, warm_start=0.0), progress=False)


@pytest.fixture(scope="module")
def skills(tmp_path_factory, tiny_base, tiny_model_dir, skill_config, examples):
    root = tmp_path_factory.mktemp("skills")
    made = {mode: write_skill(root / mode.value, skill_config.model_copy(update={"name": mode.value}),
                              examples, mode) for mode in PromptMode}
    tune_into(made[PromptMode.tuned], tiny_base, tiny_model_dir, seed=0)
    return made


def frames(readings):
    return [(r.frame.intent, r.frame.slots, round(r.frame.confidence, 4)) for r in readings]


def test_mixed_skill_batch_equals_each_turn_read_alone(runtime, skills):
    readers = [reader_for(runtime, skills[mode]) for mode in PromptMode]
    requests = [(readers[i % len(readers)], text) for i, text in enumerate(TEXTS + TEXTS[:2])]
    alone = [reader.read([text])[0] for reader, text in requests]
    assert frames(read_mixed(requests)) == frames(alone)


def test_concurrent_reads_are_batched_and_equal_serial_reads(runtime, skills):
    readers = [reader_for(runtime, skills[m]) for m in (PromptMode.tuned, PromptMode.few_shot, PromptMode.zero_shot)]
    requests = [(readers[i % 3], TEXTS[i % len(TEXTS)]) for i in range(12)]
    serial = frames(reader.read([text])[0] for reader, text in requests)
    batcher = ReadBatcher(max_batch=8, wait_seconds=0.5)
    results: list = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def worker(i: int) -> None:
        start.wait()
        results[i] = batcher.read(*requests[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    batcher.close()
    assert frames(results) == serial
    assert sum(size * n for size, n in batcher.batch_sizes.items()) == len(requests)
    assert max(batcher.batch_sizes) > 1 and max(batcher.batch_sizes) <= 8
    assert batcher.mean_batch > 1


def test_one_at_a_time_batcher_never_groups(runtime, skills):
    reader = reader_for(runtime, skills[PromptMode.zero_shot])
    batcher = ReadBatcher(max_batch=1)
    threads = [threading.Thread(target=batcher.read, args=(reader, t)) for t in TEXTS[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    batcher.close()
    assert batcher.batch_sizes == {1: 4} and batcher.mean_batch == 1.0


def test_a_failing_batch_raises_in_the_caller_and_the_worker_goes_on(runtime, skills):
    reader = reader_for(runtime, skills[PromptMode.zero_shot])
    batcher = ReadBatcher(max_batch=4)

    class Broken(FrameReader):  # a generative reader whose every read fails
        def __init__(self) -> None:
            self.mode, self.runtime, self.prefix = PromptMode.zero_shot, reader.runtime, reader.prefix

        def prepare(self, text):
            raise RuntimeError("broken reader")

    with pytest.raises(RuntimeError, match="broken reader"):
        batcher.read(Broken(), "hello")
    assert batcher.read(reader, "cancel my alarm").frame.intent  # still serving
    batcher.close()


def test_prefix_is_built_once_and_rebuilt_when_the_table_changes(runtime, tiny_base, tiny_model_dir, skills,
                                                                 tmp_path, skill_config, examples):
    skill = write_skill(tmp_path / "again", skill_config, examples, PromptMode.tuned)
    tune_into(skill, tiny_base, tiny_model_dir, seed=0)
    cache = ReaderCache(runtime)
    first = cache.get(skill)
    assert cache.get(skill) is first and cache.builds == 1
    tune_into(skill, tiny_base, tiny_model_dir, seed=1)  # `bot tune` again: a new table on disk
    second = cache.get(skill)
    assert second is not first and cache.builds == 2
    assert not torch.equal(first.prefix.keys[0], second.prefix.keys[0])


def test_prefix_cache_evicts_the_least_recently_used_beyond_its_budget(runtime, skills):
    few, zero, tuned = skills[PromptMode.few_shot], skills[PromptMode.zero_shot], skills[PromptMode.tuned]
    sizes = {s.name: prefix_bytes(reader_for(runtime, s).prefix) for s in (few, zero, tuned)}
    cache = ReaderCache(runtime, max_bytes=sizes["zero_shot"] + sizes["tuned"])
    cache.get(zero), cache.get(tuned)
    assert cache.builds == 2 and cache.bytes <= cache.max_bytes
    cache.get(zero)  # zero is now the most recent; adding few-shot (the largest) evicts tuned first
    cache.get(few)
    assert cache.bytes <= max(cache.max_bytes, sizes["few_shot"])
    cache.get(few)
    assert cache.builds == 3
    cache.get(tuned)
    assert cache.builds == 4  # it had been evicted, so it is built again


def test_batch_statistics_stay_bounded_however_many_batches(runtime, skills):
    reader = reader_for(runtime, skills[PromptMode.tuned])
    batcher = ReadBatcher(max_batch=1)
    for _ in range(30):
        batcher.read(reader, "cancel my alarm")
    batcher.close()
    assert batcher.batch_sizes == {1: 30}  # one counter per size, not one entry per batch


def read_in_turn(batcher, reader, text, *, delay: float = 0.0, done: dict | None = None) -> threading.Thread:
    """A thread whose turn is marked at once, then reads after `delay` (no text: ends unread)."""
    marked = threading.Event()

    def turn() -> None:
        with batcher.turn():
            marked.set()
            time.sleep(delay)
            if text is not None:
                batcher.read(reader, text)
            if done is not None:
                done[text] = time.monotonic()

    thread = threading.Thread(target=turn)
    thread.start()
    marked.wait(timeout=10)
    return thread


def test_a_batch_waits_for_the_read_of_every_turn_in_flight_then_leaves_at_once(runtime, skills):
    reader = reader_for(runtime, skills[PromptMode.tuned])
    batcher = ReadBatcher(max_batch=8, wait_seconds=0.0, gather_seconds=20.0)
    began = time.monotonic()
    slow = read_in_turn(batcher, reader, "weather in paris", delay=0.3)  # still in Python when the first reads
    fast = read_in_turn(batcher, reader, "wake me up at 7 am")
    for thread in (fast, slow):
        thread.join(timeout=30)
    batcher.close()
    assert batcher.batch_sizes == {2: 1}  # one batch, though wait_seconds is 0
    assert time.monotonic() - began < 10  # it left when both were queued, not after gather_seconds


def test_a_turn_that_ends_without_reading_lets_the_batch_go(runtime, skills):
    reader = reader_for(runtime, skills[PromptMode.tuned])
    batcher = ReadBatcher(max_batch=8, wait_seconds=0.0, gather_seconds=20.0)
    began = time.monotonic()
    unread = read_in_turn(batcher, reader, None, delay=0.3)  # a turn whose policy needed no model
    reading = read_in_turn(batcher, reader, "wake me up at 7 am")
    for thread in (reading, unread):
        thread.join(timeout=30)
    batcher.close()
    assert batcher.batch_sizes == {1: 1} and time.monotonic() - began < 10


def test_gather_seconds_bounds_the_wait_for_a_turn_busy_elsewhere(runtime, skills):
    reader = reader_for(runtime, skills[PromptMode.tuned])
    batcher = ReadBatcher(max_batch=8, wait_seconds=0.0, gather_seconds=0.2)
    done: dict = {}
    busy = read_in_turn(batcher, reader, "weather in paris", delay=6.0, done=done)  # e.g. generating a reply
    began = time.monotonic()
    read_in_turn(batcher, reader, "wake me up at 7 am", done=done).join(timeout=30)
    assert done["wake me up at 7 am"] - began < 4  # read without the busy turn's read
    busy.join(timeout=30)
    batcher.close()
    assert batcher.batch_sizes == {1: 2}


@pytest.mark.parametrize("call", ["read", "submit"])
def test_a_closed_batcher_refuses_reads(runtime, skills, call):
    batcher = ReadBatcher()
    batcher.close()
    with pytest.raises(RuntimeError, match="ReadBatcher is closed"):
        getattr(batcher, call)(reader_for(runtime, skills[PromptMode.tuned]), "wake me up at 7 am")


def test_reads_one_turn_submits_before_waiting_go_in_one_batch(runtime, skills):
    tuned, zero = reader_for(runtime, skills[PromptMode.tuned]), reader_for(runtime, skills[PromptMode.zero_shot])
    alone = frames([tuned.read(["weather in paris"])[0], zero.read(["wake me up at 7 am"])[0]])
    batcher = ReadBatcher(max_batch=8, wait_seconds=0.5)
    with batcher.turn():
        route, reading = batcher.submit(tuned, "weather in paris"), batcher.submit(zero, "wake me up at 7 am")
        assert frames([route.result(), reading.result()]) == alone
    batcher.close()
    assert batcher.batch_sizes == {2: 1}


def test_a_turn_with_two_reads_queued_still_waits_for_another_turns_read(runtime, skills):
    reader = reader_for(runtime, skills[PromptMode.tuned])
    batcher = ReadBatcher(max_batch=8, wait_seconds=0.0, gather_seconds=20.0)
    slow = read_in_turn(batcher, reader, "weather in paris", delay=0.3)
    began = time.monotonic()
    with batcher.turn():  # two reads of one turn are one turn served, not the two turns in flight
        futures = [batcher.submit(reader, "wake me up at 7 am"), batcher.submit(reader, "cancel my alarm")]
        [future.result(timeout=30) for future in futures]
    slow.join(timeout=30)
    batcher.close()
    assert batcher.batch_sizes == {3: 1} and time.monotonic() - began < 10


def test_a_turn_that_may_be_a_follow_up_reads_route_and_follow_up_in_one_batch(runtime, skills):
    # the seam end to end: Situation -> ModelUnderstanding.submit_* -> one batch of the batcher
    from bot.config.dialogue import DialogueSettings
    from bot.dialogue.policy import Situation
    from bot.model.understanding import ModelUnderstanding
    from bot.types import ConversationState, Request

    skill = skills[PromptMode.tuned]
    batcher = ReadBatcher(max_batch=8, wait_seconds=0.5)
    understanding = ModelUnderstanding(runtime, {skill.name: skill}, router=skills[PromptMode.zero_shot],
                                       batcher=batcher)
    intent = skill.config.intents[0].name
    state = ConversationState(conversation_id="c1", turns=1,
                              last_request=Request(skill=skill.name, intent=intent, slots={}, turn=1))
    situation = Situation(text="wake me up at 7 am", state=state, history=(), skills={skill.name: skill.config},
                          understanding=understanding, settings=DialogueSettings(), cancel_words=())
    _ = (situation.follow_up, situation.route)  # in the order IDLE_RULES asks them
    batcher.close()
    assert batcher.batch_sizes == {2: 1}
