"""Skills and rules shared by the dialogue tests: a scripted understanding, no model anywhere."""

from __future__ import annotations

from bot.config import SkillConfig
from bot.dialogue import Rule

TIME = r"(?P<time>\d+ ?[ap]m)"

RULES = [
    Rule(rf"cancel (my|the) alarm( for {TIME})?", "alarms", "cancel_alarm"),
    Rule(rf"alarm( for {TIME})?( (?P<day>today|tomorrow))?", "alarms", "set_alarm"),
    Rule(rf"table( for (?P<people>\d+))?( at {TIME})?", "restaurant", "book_table"),
    Rule(TIME, "alarms", "set_alarm", confidence=0.6),  # an answer on its own: unsure
    Rule(TIME, "restaurant", "book_table", confidence=0.6),
    Rule(r"^(?P<people>\d+)( people)?$", "restaurant", "book_table", confidence=0.6),
    Rule(r"joke", "chat", "chat"),
    Rule(r"crash", "tools", "crash"),
    Rule(r"count", "tools", "count"),
    Rule(r"weather", "weather", "forecast"),  # a skill this bot has not loaded
]


def skill_set(actions_module: str) -> dict[str, SkillConfig]:
    """Four skills; the tools skill's actions live in `actions_module` (a test module)."""
    raw = [
        {"name": "alarms", "slots": [{"name": "time"}, {"name": "day"}], "intents": [
            {"name": "set_alarm", "required_slots": ["time"], "response": "Alarm set for {time} {day}.",
             "questions": {"time": "For what time?"}},
            {"name": "cancel_alarm", "required_slots": ["time"], "response": "Alarm for {time} cancelled."}]},
        {"name": "restaurant", "slots": [{"name": "time"}, {"name": "people"}], "intents": [
            {"name": "book_table", "required_slots": ["time", "people"],
             "response": "Booked a table for {people} at {time}.",
             "questions": {"people": "For how many people at {time}?"}}]},
        {"name": "chat", "intents": [{"name": "chat", "generate": True}]},
        {"name": "tools", "intents": [{"name": "crash", "action": f"{actions_module}:explode"},
                                      {"name": "count", "action": f"{actions_module}:count_turns"}]},
    ]
    return {item["name"]: SkillConfig.model_validate(item) for item in raw}
