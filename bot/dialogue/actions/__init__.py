"""Actions of the shipped skills, and what every action may use: `ActionContext`.

An action is `def name(frame, state) -> str`, or `def name(frame, state, context) -> str` when it
needs the user's stored records (alarms, events) or an outside service (a provider). A skill
declares it in skill.yaml as `action: module:function`, e.g. `bot.dialogue.actions.alarm:set_alarm`.
"""

from bot.dialogue.actions.context import (ActionContext, ProviderMissing, ProviderUnavailable,
                                          call_provider, phrase)

__all__ = ["ActionContext", "ProviderMissing", "ProviderUnavailable", "call_provider", "phrase"]
