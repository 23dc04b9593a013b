"""What an action sees besides the frame: the user, their stored records, and the providers.

Providers are the seam a bot owner fills: a weather or music service is any object with the
methods of `bot.dialogue.actions.providers`, named in the settings (`dialogue.providers`). Without
one, an action says so plainly; a provider that fails or times out gets a "can't reach" reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.errors import BotError
from bot.store.user_data import UserRecords
from bot.types import ConversationState, Frame

__all__ = ["ActionContext", "ProviderMissing", "ProviderUnavailable", "call_provider", "phrase"]

log = logging.getLogger("bot.dialogue.actions")


class ProviderMissing(BotError):
    """No provider of that name is configured."""


class ProviderUnavailable(BotError):
    """A provider could not be reached or did not answer in time (raise it from a provider)."""


@dataclass(frozen=True)
class ActionContext:
    """One action call: the frame and state (copies), the user and what the bot keeps for them."""

    frame: Frame
    state: ConversationState
    user_id: str
    records: UserRecords
    providers: Mapping[str, object] = field(default_factory=dict)
    replaces: Mapping[str, str] | None = None  # a follow-up: the slots of the request it changes
    text: str = ""  # the turn's own words, beside what was read from them

    def provider(self, name: str) -> object:
        if name not in self.providers:
            raise ProviderMissing(f"no '{name}' provider is configured")
        return self.providers[name]


_MISSING_LOGGED: set[str] = set()  # providers whose absence the log has named (once a process)


def call_provider(ctx: ActionContext, name: str, call: Callable[[object], str], *,
                  missing: str, unreachable: str) -> str:
    """`call(provider)`, or the `missing` reply without one, or `unreachable` when it fails. How to
    configure one goes to the operator's log, not to the user (a web or Slack user can't set it)."""
    try:
        provider = ctx.provider(name)
    except ProviderMissing:
        if name not in _MISSING_LOGGED:
            _MISSING_LOGGED.add(name)
            log.warning("no '%s' provider is configured, so the bot answers that it has no %s service\n"
                        "  fix: set dialogue.providers.%s: 'module:factory' in the bot's settings "
                        "(README: Skills that act)", name, name, name)
        return missing
    try:
        return call(provider)
    except (ProviderUnavailable, TimeoutError, OSError) as err:
        log.warning("provider %r unreachable: %s", name, err)
        return unreachable


_PREPOSITIONS = ("in ", "on ", "at ", "for ", "by ", "from ")
_RELATIVE_DAYS = ("today", "tomorrow", "tonight", "this ", "next ", "every ")


def phrase(*parts: tuple[str, str | None]) -> str:
    """Join (preposition, value) pairs that have a value: ("in", "paris"), ("for", "tomorrow").

    No preposition is added to a value that starts with one, nor "on" to "tomorrow" or "next week",
    nor one the words before already end with (event "lunch with" and person "sam": "lunch with sam");
    a value the words before already say is left out (event "lunch with sam", person "sam": not
    "lunch with sam with sam").
    """
    words: list[str] = []
    for preposition, value in parts:
        if not value:
            continue
        lowered = value.lower()
        if f" {lowered} " in f" {' '.join(words).lower()} ":
            continue
        said = words[-1].lower().split() if words else []
        bare = (not preposition or lowered.startswith(_PREPOSITIONS)
                or (preposition == "on" and lowered.startswith(_RELATIVE_DAYS))
                or said[-1:] == [preposition])
        words.append(value if bare else f"{preposition} {value}")
    return " ".join(words)
