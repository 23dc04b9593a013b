"""Posting a reply to Slack so that a retry can tell whether it was already posted.

Each reply carries Slack message metadata naming its turn (`event_type` REPLY_EVENT, payload
`{"turn_id": ...}`). A worker can die after the post and before it marks the event done; Slack
then delivers the event again. Such a redelivery (its claim was taken before, never finished) reads
the thread (`conversations.replies`, with metadata) and posts only if no message of the bot there
carries the turn's id: one reply in the thread, whichever worker died where.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["REPLY_EVENT", "carries_turn", "escape", "post_reply", "posted_before"]

log = logging.getLogger("bot.adapters.slack")

REPLY_EVENT = "bot_turn_reply"  # the metadata event_type of every reply the bot posts
PAGE_SIZE = 200  # messages per conversations.replies page (Slack's recommended maximum)
MAX_PAGES = 10  # a thread longer than 2,000 messages after the event is not searched further
HISTORY_FIX = ("grant the app channels:history, groups:history, im:history and mpim:history "
               "(conversations.replies), so a retry can see the reply a dead worker posted")


def escape(text: str) -> str:
    """The reply as Slack text: &, < and > escaped, so a reply can never ping `<!channel>` or a user."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def carries_turn(message: Mapping[str, Any], turn_id: str, bot_user_id: str | None) -> bool:
    """True for a message the bot posted as the reply to `turn_id` (its metadata says so)."""
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != REPLY_EVENT:
        return False
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping) or payload.get("turn_id") != turn_id:
        return False
    return bot_user_id is None or message.get("user") in (None, bot_user_id)


async def posted_before(client: AsyncWebClient, *, channel: str, thread_ts: str, after_ts: str, turn_id: str,
                        bot_user_id: str | None) -> bool:
    """Whether the thread already holds the bot's reply to `turn_id`, posted after `after_ts`.

    A thread that cannot be read counts as holding none (logged with the fix): posting a reply
    twice is the lesser harm than never posting it.
    """
    cursor: str | None = None
    try:
        for _ in range(MAX_PAGES):
            page = await client.conversations_replies(channel=channel, ts=thread_ts, oldest=after_ts or None,
                                                      include_all_metadata=True, limit=PAGE_SIZE, cursor=cursor)
            if any(carries_turn(message, turn_id, bot_user_id) for message in page.get("messages") or []):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or cursor is None:
                return False
    except SlackApiError as err:
        log.error("could not read thread %s in %s to see whether turn %s was answered (%s); posting it\n"
                  "  fix: %s", thread_ts, channel, turn_id, err.response.get("error"), HISTORY_FIX)
    except Exception as err:  # noqa: BLE001 - network trouble: the post below reports it if it persists
        log.error("could not read thread %s in %s to see whether turn %s was answered: %s; posting it",
                  thread_ts, channel, turn_id, err)
    return False


async def post_reply(client: AsyncWebClient, *, channel: str, thread_ts: str, text: str, turn_id: str,
                     api_url: str) -> str | None:
    """Post `text` in the thread, tagged with its turn; None once posted, else why Slack should retry."""
    metadata = {"event_type": REPLY_EVENT, "event_payload": {"turn_id": turn_id}}
    try:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=escape(text), metadata=metadata)
        return None
    except SlackApiError as err:
        log.error("Slack refused the reply to turn %s in %s: %s\n  fix: invite the bot to the channel and "
                  "grant chat:write", turn_id, channel, err.response.get("error"))
        return f"Slack refused the reply: {err.response.get('error')}"
    except Exception as err:  # noqa: BLE001 - network trouble must not kill the server, only this reply
        log.error("could not post the reply to turn %s: %s (is the Slack API at %s reachable?)",
                  turn_id, err, api_url)
        return "the reply could not be posted"
