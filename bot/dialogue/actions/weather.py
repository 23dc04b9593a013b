"""The weather skill's action: asks the `weather` provider (see providers.py) for the forecast."""

from __future__ import annotations

from bot.dialogue.actions.context import ActionContext, call_provider, phrase
from bot.types import ConversationState, Frame

__all__ = ["MISSING", "UNREACHABLE", "weather"]

MISSING = "I can't look up the weather {where} yet: no weather service is configured."
UNREACHABLE = "I can't reach the weather service right now, so no weather {where}; please try again later."


def weather(frame: Frame, state: ConversationState, ctx: ActionContext) -> str:
    """"Here is the weather in Paris for tomorrow: sunny, 18 °C." (or why there is none)."""
    slots = frame.slots
    time = slots.get("time") or slots.get("timeofday")
    where = phrase(("in", slots.get("place_name")), ("for", slots.get("date")), ("at", time)) or "there"
    return call_provider(
        ctx, "weather",
        lambda p: f"Here is the weather {where}: "
                  f"{p.forecast(place=slots.get('place_name'), date=slots.get('date'), time=time)}.",
        missing=MISSING.format(where=where), unreachable=UNREACHABLE.format(where=where))
