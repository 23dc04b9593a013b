"""The dialogue manager: routing, multi-turn slot filling and responses, free of any channel.

    manager = DialogueManager(skills, understanding, store)
    reply = manager.handle(Turn(conversation_id="c1", text="set an alarm for 7 am"))

It reaches the model only through `Understanding` and the state only through a ConversationStore;
`ScriptedUnderstanding` stands in for the model in tests.
"""

from bot.dialogue.manager import (BUSY_REPLY, CANCELLED_REPLY, DEDUP_SECONDS, ERROR_REPLY, FALLBACK_REPLY,
                                  DialogueManager)
from bot.dialogue.responses import (DEFAULT_RESPONSE, Action, ActionError, ResponseContext, Responder,
                                    Responses, default_question, load_action, load_actions,
                                    response_kind)
from bot.dialogue.understanding import Call, Route, Rule, ScriptedUnderstanding, Understanding

__all__ = ["BUSY_REPLY", "CANCELLED_REPLY", "DEDUP_SECONDS", "DEFAULT_RESPONSE", "ERROR_REPLY",
           "FALLBACK_REPLY", "Action", "ActionError", "Call", "DialogueManager", "ResponseContext",
           "Responder", "Responses", "Route", "Rule", "ScriptedUnderstanding", "Understanding",
           "default_question", "load_action", "load_actions", "response_kind"]
