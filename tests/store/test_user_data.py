"""Users' records (alarms, events) in the memory store and in a real Redis, under the store's lock."""

from __future__ import annotations

import threading
import uuid

import pytest

from bot.store import MemoryStore, StoreError, StoreSettings
from bot.store.user_data import UserRecords


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        yield MemoryStore()
        return
    from bot.store.redis import RedisStore

    url = request.getfixturevalue("redis_url")
    with RedisStore(StoreSettings(kind="redis", url=url, key_prefix=f"t{uuid.uuid4().hex[:8]}:")) as redis_store:
        yield redis_store


def test_records_are_added_listed_and_removed_per_user_and_kind(store) -> None:
    ann, bob = UserRecords(store, "ann"), UserRecords(store, "bob")
    assert ann.add("alarms", {"time": "7 am"}) == {"id": "1", "time": "7 am"}
    ann.add("alarms", {"time": "8 am", "id": "ignored"})
    ann.add("events", {"event_name": "dentist"})
    assert [r["time"] for r in ann.list("alarms")] == ["7 am", "8 am"]
    assert ann.list("alarms")[1]["id"] == "2" and bob.list("alarms") == []
    assert ann.remove("alarms", lambda r: r["time"] == "7 am") == [{"id": "1", "time": "7 am"}]
    assert ann.list("alarms") == [{"id": "2", "time": "8 am"}]
    assert ann.add("alarms", {"time": "9 am"})["id"] == "3"  # ids are never reused while one is kept
    assert ann.list("events") == [{"id": "1", "event_name": "dentist"}]


def test_records_outlive_conversation_expiry(store) -> None:
    UserRecords(store, "ann").add("alarms", {"time": "7 am"})
    assert UserRecords(store, "ann").list("alarms") == [{"id": "1", "time": "7 am"}]


def test_concurrent_adds_of_one_user_lose_nothing(store) -> None:
    records = UserRecords(store, "ann")

    def add(name: str) -> None:
        for number in range(10):
            records.add("alarms", {"time": f"{name} {number}"})

    threads = [threading.Thread(target=add, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = records.list("alarms")
    assert len(kept) == 20 and len({r["id"] for r in kept}) == 20


def test_a_corrupt_record_list_is_a_clear_error(store) -> None:
    store.write_data("user:ann:alarms", "{not json")
    with pytest.raises(StoreError, match="not valid JSON") as caught:
        UserRecords(store, "ann").list("alarms")
    assert "fix: delete the key" in str(caught.value)
