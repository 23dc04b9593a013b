"""A Slack worker process that dies (os._exit, no clean-up) at one point of its first event: what a
SIGKILL there leaves behind.

    python tests/adapters/slack_worker.py PORT REDIS_URL KEY_PREFIX SLACK_API_URL turn|post

`turn`: right after the turn is applied and saved, before the reply is posted. `post`: right after
the reply is posted, before the event is marked done (the mark is the store's next `seen`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import uvicorn
from adapter_fixtures import make_manager
from fake_slack import BOT_TOKEN, SIGNING_SECRET

from bot.adapters.http import create_app
from bot.config.server import ServerConfig, SlackConfig, SlackSecrets
from bot.store import StoreSettings, open_store
from bot.types import Reply, Turn


class Dies:
    def __init__(self, redis_url: str, prefix: str, where: str) -> None:
        self.manager = make_manager(open_store(StoreSettings(kind="redis", url=redis_url, key_prefix=prefix)))
        self.store, self.where = self.manager.store, where
        if where == "post":
            self.store.seen = self._dies_marking_done(self.store.seen)  # type: ignore[method-assign]

    def handle(self, turn: Turn) -> Reply:
        reply = self.manager.handle(turn)  # applied and saved...
        if self.where == "turn":
            os._exit(9)  # ...and the worker is gone before it could post
        return reply

    @staticmethod
    def _dies_marking_done(seen: Callable[[str, int], bool]) -> Callable[[str, int], bool]:
        def mark(key: str, ttl_seconds: int) -> bool:
            if key.startswith("slack-event:"):  # the reply is posted; the worker is gone before the mark
                os._exit(9)
            return seen(key, ttl_seconds)
        return mark


def main() -> None:
    port, redis_url, prefix, api_url, where = sys.argv[1:6]
    if where not in ("turn", "post"):
        sys.exit(f"where must be turn or post, got {where!r}")
    settings = ServerConfig(port=int(port), slack=SlackConfig(api_url=api_url, claim_seconds=1))  # a short claim
    secrets = SlackSecrets(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    uvicorn.run(create_app(Dies(redis_url, prefix, where), settings, slack=secrets), host="127.0.0.1",
                port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
