"""A Slack worker process that dies (os._exit, no clean-up) right after its first turn is applied and
saved, before the reply is posted: what a SIGKILL between the turn and the post leaves behind.

    python tests/adapters/slack_worker.py PORT REDIS_URL KEY_PREFIX SLACK_API_URL
"""

from __future__ import annotations

import os
import sys

import uvicorn
from adapter_fixtures import make_manager
from fake_slack import BOT_TOKEN, SIGNING_SECRET

from bot.adapters.http import create_app
from bot.config.server import ServerConfig, SlackConfig, SlackSecrets
from bot.store import StoreSettings, open_store
from bot.types import Reply, Turn


class DiesAfterTheTurn:
    def __init__(self, redis_url: str, prefix: str) -> None:
        self.manager = make_manager(open_store(StoreSettings(kind="redis", url=redis_url, key_prefix=prefix)))
        self.store = self.manager.store

    def handle(self, turn: Turn) -> Reply:
        self.manager.handle(turn)  # applied and saved...
        os._exit(9)  # ...and the worker is gone before it could post


def main() -> None:
    port, redis_url, prefix, api_url = sys.argv[1:5]
    settings = ServerConfig(port=int(port), slack=SlackConfig(api_url=api_url, claim_seconds=1))  # a short claim
    secrets = SlackSecrets(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    uvicorn.run(create_app(DiesAfterTheTurn(redis_url, prefix), settings, slack=secrets), host="127.0.0.1",
                port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
