"""How the bot answers an intent: a template, a question for a missing slot, an action, or the model.

Each way is one responder in a registry; the skill's config picks which. Actions are imported when
the manager starts, so a misspelt `module:function` stops the bot before its first conversation.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import IntentConfig, SkillConfig
from bot.config.templates import fill_template
from bot.dialogue.understanding import Understanding
from bot.errors import BotError, ConfigError
from bot.types import ConversationState, Frame, HistoryEntry

__all__ = ["DEFAULT_RESPONSE", "Action", "ActionError", "ResponseContext", "Responder", "Responses",
           "default_question", "load_action", "load_actions", "response_kind"]

DEFAULT_RESPONSE = "Okay."  # an intent that configures no answer at all

Action = Callable[[Frame, ConversationState], str]


class ActionError(BotError):
    """A skill's action raised or returned something other than text."""


@dataclass(frozen=True)
class ResponseContext:
    """Everything a responder may use for one turn."""

    skill: SkillConfig
    intent: IntentConfig
    frame: Frame  # the intent with every slot filled so far, not just this turn's
    state: ConversationState
    text: str
    history: Sequence[HistoryEntry]
    missing: str | None = None  # the required slot to ask for, if any


Responder = Callable[[ResponseContext], str]

# Which responder answers: the first kind whose test holds, else "template".
_KINDS: tuple[tuple[str, Callable[[ResponseContext], object]], ...] = (
    ("question", lambda ctx: ctx.missing),
    ("action", lambda ctx: ctx.intent.action),
    ("generate", lambda ctx: ctx.intent.generate),
)


def response_kind(ctx: ResponseContext) -> str:
    """The name of the responder for this turn: question, action, generate or template."""
    return next((kind for kind, applies in _KINDS if applies(ctx)), "template")


def default_question(slot: str) -> str:
    return f"What {slot.replace('_', ' ')}?"


class Responses:
    """The registry of responders over a set of skills; actions are resolved on construction."""

    def __init__(self, skills: Mapping[str, SkillConfig], understanding: Understanding) -> None:
        self._actions = load_actions(skills)
        self._understanding = understanding
        self.responders: dict[str, Responder] = {
            "template": self._template, "question": self._question,
            "action": self._action, "generate": self._generate,
        }

    def respond(self, ctx: ResponseContext) -> str:
        return self.responders[response_kind(ctx)](ctx)

    def _template(self, ctx: ResponseContext) -> str:
        return fill_template(ctx.intent.response or DEFAULT_RESPONSE, ctx.frame.slots)

    def _question(self, ctx: ResponseContext) -> str:
        slot = ctx.missing or ""
        return fill_template(ctx.intent.questions.get(slot) or default_question(slot), ctx.frame.slots)

    def _generate(self, ctx: ResponseContext) -> str:
        return self._understanding.generate(ctx.skill.name, ctx.text, ctx.history)

    def _action(self, ctx: ResponseContext) -> str:
        spec = ctx.intent.action
        where = f"action {spec} (skill '{ctx.skill.name}', intent '{ctx.intent.name}')"
        try:
            # Copies: an action that fails half-way must not leave the conversation half-changed.
            reply = self._actions[ctx.skill.name, ctx.intent.name](
                ctx.frame.model_copy(deep=True), ctx.state.model_copy(deep=True))
        except Exception as err:
            raise ActionError(f"{where} raised {type(err).__name__}: {err}") from err
        if not isinstance(reply, str):
            raise ActionError(f"{where} returned {type(reply).__name__}, not the reply text (str)")
        return reply


def load_actions(skills: Mapping[str, SkillConfig]) -> dict[tuple[str, str], Action]:
    """Every declared action, keyed by (skill, intent); ConfigError for the first that won't load."""
    return {(name, intent.name): load_action(intent.action, skill=name, intent=intent.name,
                                             field=f"intents.{number}.action")
            for name, skill in skills.items()
            for number, intent in enumerate(skill.intents) if intent.action}


def load_action(spec: str, *, skill: str, intent: str, field: str = "action") -> Action:
    """Import `module:function` and check it takes (frame, state); ConfigError says what to fix."""
    module_name, _, function_name = spec.partition(":")

    def fail(problem: str, fix: str) -> ConfigError:
        return ConfigError(f"skill '{skill}'", f"intent '{intent}' declares action '{spec}', but "
                           f"{problem}", field=field, fix=fix)

    function = getattr(_import(module_name, fail), function_name, None)
    if not callable(function):
        raise fail(f"module '{module_name}' has no function '{function_name}'",
                   f"define `def {function_name}(frame, state) -> str` in {module_name}, "
                   "or correct the name after ':'")
    if not _takes_two(function):
        raise fail(f"'{function_name}' does not accept (frame, state)",
                   f"give it the signature `def {function_name}(frame, state) -> str`")
    return function


def _import(module_name: str, fail: Callable[[str, str], ConfigError]) -> object:
    try:
        return importlib.import_module(module_name)
    except Exception as err:  # ImportError, or whatever the module itself raised on import
        raise fail(f"module '{module_name}' cannot be imported ({type(err).__name__}: {err})",
                   "correct the module path, and run the bot from the folder that contains it "
                   "(or add that folder to PYTHONPATH)") from err


def _takes_two(function: Callable[..., object]) -> bool:
    try:
        inspect.signature(function).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to inspect (some built-ins): let the call decide
        return True
    return True
