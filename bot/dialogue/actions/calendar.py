"""The calendar skill's actions: events are kept per user in the store (`UserRecords`, kind "events")."""

from __future__ import annotations

from bot.dialogue.actions.context import ActionContext, phrase
from bot.dialogue.actions.records import matches, names_unread_number
from bot.store.user_data import Record
from bot.types import ConversationState, Frame

__all__ = ["add_event", "list_events", "remove_event"]

KIND = "events"
FIELDS = ("event_name", "date", "time", "person", "place_name")


def _describe(event: Record) -> str:
    return phrase(("", event.get("event_name") or "an event"), ("with", event.get("person")),
                  ("on", event.get("date")), ("at", event.get("time")), ("in", event.get("place_name")))


def _listing(events: list[Record]) -> str:
    return "; ".join(_describe(event) for event in events)


def add_event(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """Store the event; a follow-up changing it replaces the event it follows."""
    if ctx.replaces:
        ctx.records.remove(KIND, lambda r: matches(r, ctx.replaces or {}, FIELDS))
    event = ctx.records.add(KIND, {name: frame.slots[name] for name in FIELDS if frame.slots.get(name)})
    return f"Added {_describe(event)} to your calendar."


def list_events(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """The user's events, those of the day (or the event) asked about if one was named."""
    wanted = {name: frame.slots[name] for name in ("date", "event_name") if frame.slots.get(name)}
    events = [e for e in ctx.records.list(KIND) if matches(e, wanted, FIELDS)]
    when = phrase(("for", frame.slots.get("date")))
    if not events:
        return f"Nothing is on your calendar{' ' + when if when else ''}."
    return f"On your calendar{' ' + when if when else ''}: {_listing(events)}."


def remove_event(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """Remove the events matching what was named; with nothing named, the only event there is
    (unless the turn named a time or day that was not read: then it asks)."""
    events = ctx.records.list(KIND)
    wanted = {name: frame.slots[name] for name in FIELDS if frame.slots.get(name)}
    if not events:
        return "Your calendar is empty."
    if not wanted and (len(events) > 1 or names_unread_number(ctx.text, frame.slots)):
        return f"Which event should I remove? You have {_listing(events)}."
    removed = ctx.records.remove(KIND, lambda r: matches(r, wanted, FIELDS))
    if not removed:
        return f"I found no such event. On your calendar: {_listing(events)}."
    return f"Removed {_listing(removed)} from your calendar."
