"""What a user asked the bot to keep (alarms, calendar events), in the conversation store's backend.

Records outlive conversations: they are stored without expiry, per user and kind, as one JSON
list under `user:{user_id}:{kind}`. Every change runs under the store's own lock for that key
(a thread lock in memory, a renewed Redis lease across workers), so two conversations of the same
user never lose each other's alarm.

    records = UserRecords(store, "alice")
    records.add("alarms", {"time": "7 am"})
    records.list("alarms")          # [{"id": "1", "time": "7 am"}]
"""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.store.base import ConversationStore, StoreError

__all__ = ["Record", "UserRecords"]

Record = dict[str, str]


class UserRecords:
    """One user's records of each kind; every record gets an `id` unique within its kind."""

    def __init__(self, store: ConversationStore, user_id: str) -> None:
        self.store, self.user_id = store, user_id

    def _key(self, kind: str) -> str:
        return f"user:{self.user_id}:{kind}"

    def list(self, kind: str) -> list[Record]:
        """The records of `kind`, oldest first."""
        return self._read(kind)

    def add(self, kind: str, record: Record) -> Record:
        """Store a record (its values as text) and return it with its new id."""
        with self.store.lock(self._key(kind)):
            records = self._read(kind)
            number = 1 + max((int(r["id"]) for r in records if r.get("id", "").isdigit()), default=0)
            added = {"id": str(number), **{k: str(v) for k, v in record.items() if k != "id"}}
            self._write(kind, [*records, added])
        return added

    def remove(self, kind: str, matches: Callable[[Record], bool]) -> list[Record]:
        """Remove every record of `kind` that `matches`; return the removed ones."""
        with self.store.lock(self._key(kind)):
            records = self._read(kind)
            removed = [r for r in records if matches(r)]
            if removed:
                self._write(kind, [r for r in records if not matches(r)])
        return removed

    def _read(self, kind: str) -> list[Record]:
        raw = self.store.read_data(self._key(kind))
        if raw is None:
            return []
        try:
            records = json.loads(raw)
        except json.JSONDecodeError as err:
            raise StoreError(f"user data {self._key(kind)!r} is not valid JSON ({err})\n"
                             "  fix: delete the key (the user's records of that kind are lost)") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise StoreError(f"user data {self._key(kind)!r} is not a list of records\n"
                             "  fix: delete the key (the user's records of that kind are lost)")
        return records

    def _write(self, kind: str, records: list[Record]) -> None:
        self.store.write_data(self._key(kind), json.dumps(records, ensure_ascii=False))
