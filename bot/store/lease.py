"""Short lock leases, renewed in the background while their holder works.

A conversation's lock is a key with a short expiry (the lease). While the turn runs, one renewer
thread per store pushes the expiry out every third of the lease; a holder that dies stops renewing,
so its lock frees within one lease. A lease that could not be renewed in time is marked lost, and
the store's fenced save refuses to write for it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Lease", "Renewer"]

log = logging.getLogger("bot.store")


@dataclass
class Lease:
    """One holding of one conversation's lock; `token` is what the lock key holds while it is ours."""

    conversation_id: str
    seconds: float
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    renewed: float = field(default_factory=time.monotonic)  # last time the store confirmed it
    lost: bool = False

    def expired(self, now: float | None = None) -> bool:
        """True once the lease is lost, or has gone a whole lease without a confirmed renewal."""
        return self.lost or (now or time.monotonic()) - self.renewed >= self.seconds


class Renewer:
    """A daemon thread renewing every held lease; `renew(lease)` answers True while it is still ours."""

    def __init__(self, renew: Callable[[Lease], bool], interval: float) -> None:
        self._renew, self.interval = renew, interval
        self._by_id: dict[int, Lease] = {}
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def hold(self, lease: Lease) -> None:
        with self._mutex:
            self._by_id[id(lease)] = lease
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bot-lease-renewer", daemon=True)
                self._thread.start()

    def drop(self, lease: Lease) -> None:
        with self._mutex:
            self._by_id.pop(id(lease), None)

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            with self._mutex:
                leases = list(self._by_id.values())
            for lease in leases:
                self._renew_one(lease)

    def _renew_one(self, lease: Lease) -> None:
        started = time.monotonic()
        try:
            ours = self._renew(lease)
        except Exception as err:  # noqa: BLE001 - Redis down: keep trying until the lease runs out
            log.warning("conversation %r: could not renew its lock lease: %s", lease.conversation_id, err)
            return
        if ours:
            lease.renewed = started  # measured from before the call: the conservative side
        elif not lease.lost:
            lease.lost = True
            log.error("conversation %r: its lock lease ran out and another holder may have it; this "
                      "turn's state will not be saved", lease.conversation_id)
