"""The music skill's actions: play and query through the `music` provider; tastes kept per user."""

from __future__ import annotations

from bot.dialogue.actions.context import ActionContext, call_provider, phrase
from bot.types import ConversationState, Frame

__all__ = ["change_setting", "like_music", "now_playing", "play_music"]

QUERY_SLOTS = ("song_name", "artist_name", "music_album", "music_genre", "playlist_name", "music_descriptor")
MISSING = "I can't {what} yet: no music service is configured."
UNREACHABLE = "I can't reach the music service right now; please try again later."


def _call(ctx: ActionContext, what: str, call) -> str:
    return call_provider(ctx, "music", call, missing=MISSING.format(what=what), unreachable=UNREACHABLE)


def play_music(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    query = {name: frame.slots[name] for name in QUERY_SLOTS if frame.slots.get(name)}
    asked = phrase(*(("", query.get(name)) for name in QUERY_SLOTS)) or "music"
    return _call(ctx, f"play {asked}", lambda p: f"Playing {p.play(query) or asked}.")


def now_playing(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    def ask(provider) -> str:
        playing = provider.now_playing()
        return f"Now playing: {playing}." if playing else "Nothing is playing."
    return _call(ctx, "tell what is playing", ask)


def change_setting(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    setting = frame.slots.get("player_setting")
    if not setting:
        return "Which setting should I change: shuffle, repeat, volume?"
    return _call(ctx, f"change the player to {setting}",
                 lambda p: f"Player setting changed: {p.change_setting(setting)}.")


def like_music(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """Remember what the user likes (kind "music_likes"); no provider needed."""
    liked = phrase(*(("", frame.slots.get(name)) for name in QUERY_SLOTS))
    if not liked:
        return "Noted that you like it."
    ctx.records.add("music_likes", {"liked": liked})
    return f"Noted: you like {liked}."
