"""Settings of `bot serve`: where it listens, what it accepts, and how Slack reaches it.

Secrets never live here: Slack's tokens come only from the environment (`SlackSecrets`), are kept
as `SecretStr` (their repr is '**********') and are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.errors import ConfigError

__all__ = ["RateLimitConfig", "ServerConfig", "SlackConfig", "SlackSecrets"]


class RateLimitConfig(BaseModel):
    """At most `turns` messages in any `seconds`-long window, counted in the conversation store (so
    every worker on one Redis shares the count)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turns: int = Field(default=30, ge=1)
    seconds: float = Field(default=60.0, gt=0)


class SlackConfig(BaseModel):
    """Where Slack's Events API posts and where the bot calls Slack's Web API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events_path: str = Field(default="/slack/events", pattern=r"^/\S*$")
    api_url: str = "https://slack.com/api/"  # tests point this at a local fake Slack
    dedup_seconds: int = Field(default=3600, ge=1)  # how long a delivered event_id is remembered
    # A worker working on an event claims it this long: below Slack's one-minute retry, so the retry
    # after a worker died mid-event finds the claim gone and posts the (stored) reply.
    claim_seconds: int = Field(default=30, ge=1)
    # Slack waits 3 s for the ack; a reply not posted by then gets 503 so that Slack retries later.
    ack_seconds: float = Field(default=2.5, gt=0, le=2.9)


class ServerConfig(BaseModel):
    """The HTTP server: address, request limits, and the thread pool that runs blocking turns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_message_chars: int = Field(default=4000, ge=1)
    max_body_bytes: int = Field(default=65536, ge=1024)  # rejected before any JSON is parsed
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)  # per conversation
    # Per API key (or, with no keys, per client address), across all of its conversations.
    client_rate_limit: RateLimitConfig = Field(default_factory=lambda: RateLimitConfig(turns=120, seconds=60))
    threads: int = Field(default=4, ge=1)  # turns answered at once
    queue_size: int = Field(default=16, ge=0)  # turns that may wait for a thread; more get 503 + Retry-After
    api_keys_file: Path | None = None  # one key a line; beside $BOT_API_KEYS (comma-separated)
    allow_unauthenticated: bool = False  # listen beyond loopback with no API keys (`--allow-unauthenticated`)
    slack: SlackConfig = Field(default_factory=SlackConfig)


class SlackSecrets(BaseModel):
    """Slack's credentials, read from the environment only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signing_secret: SecretStr | None = None  # SLACK_SIGNING_SECRET: verifies Events API requests
    bot_token: SecretStr | None = None  # SLACK_BOT_TOKEN (xoxb-): posts replies
    app_token: SecretStr | None = None  # SLACK_APP_TOKEN (xapp-): Socket Mode only

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SlackSecrets:
        env = os.environ if environ is None else environ
        return cls.model_validate({"signing_secret": env.get("SLACK_SIGNING_SECRET") or None,
                                   "bot_token": env.get("SLACK_BOT_TOKEN") or None,
                                   "app_token": env.get("SLACK_APP_TOKEN") or None})

    def wants_events_api(self) -> bool:
        """True when Slack's Events API should be mounted; half a configuration is an error."""
        if bool(self.signing_secret) != bool(self.bot_token):
            missing = "SLACK_BOT_TOKEN" if self.signing_secret else "SLACK_SIGNING_SECRET"
            raise ConfigError("environment", f"{missing} is not set but its partner is",
                              field=missing, fix="set both SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN "
                              "(Slack app > Basic Information / OAuth & Permissions), or neither")
        return self.signing_secret is not None

    def check_socket_mode(self) -> None:
        """Socket Mode needs the app-level token and the bot token."""
        for name, value in (("SLACK_APP_TOKEN", self.app_token), ("SLACK_BOT_TOKEN", self.bot_token)):
            if value is None:
                raise ConfigError("environment", f"{name} is not set; --slack-socket-mode needs it",
                                  field=name, fix="create an app-level token with connections:write "
                                  "(xapp-...) and export SLACK_APP_TOKEN and SLACK_BOT_TOKEN")
