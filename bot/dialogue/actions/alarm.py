"""The alarm skill's actions: alarms are kept per user in the store (`UserRecords`, kind "alarms")."""

from __future__ import annotations

from bot.dialogue.actions.context import ActionContext, phrase
from bot.dialogue.actions.records import matches, names_unread_number, normalise
from bot.store.user_data import Record
from bot.types import ConversationState, Frame

__all__ = ["list_alarms", "remove_alarm", "set_alarm"]

KIND = "alarms"
FIELDS = ("time", "date")


def _describe(alarm: Record) -> str:
    return phrase(("", alarm.get("time")), ("on", alarm.get("date"))) or "an alarm"


def _listing(alarms: list[Record]) -> str:
    return ", ".join(_describe(alarm) for alarm in alarms)


def set_alarm(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """Store the alarm; a follow-up ("make it 8 am") moves the alarm it changes instead; the same
    alarm twice is kept once (a second 6 am alarm would make "make it 7 am" move both)."""
    wanted = {name: frame.slots[name] for name in FIELDS if frame.slots.get(name)}
    moved = ctx.records.remove(KIND, lambda r: matches(r, ctx.replaces or {}, FIELDS)) if ctx.replaces else []
    same = [a for a in ctx.records.list(KIND) if all(normalise(a.get(f, "")) == normalise(wanted.get(f, ""))
                                                     for f in FIELDS)]
    if same and not moved:
        return f"You already have an alarm for {_describe(same[0])}."
    alarm = same[0] if same else ctx.records.add(KIND, wanted)
    if moved:
        return f"Alarm moved from {_describe(moved[0])} to {_describe(alarm)}."
    return f"Alarm set for {_describe(alarm)}."


def list_alarms(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """The user's alarms, those of the day asked about if one was named."""
    alarms = [a for a in ctx.records.list(KIND) if matches(a, {"date": frame.slots.get("date", "")}, FIELDS)]
    when = phrase(("for", frame.slots.get("date")))
    if not alarms:
        return f"You have no alarms set{' ' + when if when else ''}."
    count = "one alarm" if len(alarms) == 1 else f"{len(alarms)} alarms"
    return f"You have {count}{' ' + when if when else ''}: {_listing(alarms)}."


def remove_alarm(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """Remove the alarms matching the time/day given; with none given, the only alarm there is
    (unless the turn named a time that was not read: then it asks)."""
    alarms = ctx.records.list(KIND)
    wanted = {name: frame.slots[name] for name in FIELDS if frame.slots.get(name)}
    if not alarms:
        return "You have no alarms set."
    if not wanted and (len(alarms) > 1 or names_unread_number(ctx.text, frame.slots)):
        return f"Which alarm should I remove? You have {_listing(alarms)}."
    removed = ctx.records.remove(KIND, lambda r: matches(r, wanted, FIELDS))
    if not removed:
        at = phrase(("at", wanted.get("time")), ("on", wanted.get("date")))
        return f"You have no alarm {at}. Your alarms: {_listing(alarms)}."
    return f"Removed the alarm{'s' if len(removed) > 1 else ''} for {_listing(removed)}."
