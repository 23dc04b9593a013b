"""How the bot answers an intent: a template, a question for a missing slot, an action, or the model.

Each way is one responder in a registry; the skill's config picks which. Actions are imported when
the manager starts, so a misspelt `module:function` stops the bot before its first conversation.
An action takes (frame, state), or (frame, state, context) to reach the user's stored records and
the configured providers (`bot.dialogue.actions.ActionContext`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import IntentConfig, SkillConfig
from bot.config.templates import fill_template
from bot.dialogue.actions.context import ActionContext
from bot.dialogue.pieces import OnPiece
from bot.dialogue.understanding import Understanding
from bot.errors import BotError, ConfigError
from bot.store import ConversationStore, MemoryStore, StoreError
from bot.store.user_data import UserRecords
from bot.types import ConversationState, Frame, HistoryEntry

__all__ = ["DEFAULT_RESPONSE", "Action", "ActionError", "ResponseContext", "Responder", "Responses",
           "default_question", "load_action", "load_actions", "load_factory", "response_kind"]

DEFAULT_RESPONSE = "Okay."  # an intent that configures no answer at all

Action = Callable[..., str]  # (frame, state) -> str, or (frame, state, ActionContext) -> str


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
    user_id: str = "user"
    replaces: Mapping[str, str] | None = None  # a follow-up: the slots of the request it changes
    on_piece: OnPiece | None = None  # the turn is streamed: a generated reply goes here as it is written


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
    """The registry of responders over a set of skills; actions are resolved on construction.

    `store` keeps the users' records for actions that take a context (default: a private memory
    store); `providers` are the outside services those actions may call, by name.
    """

    def __init__(self, skills: Mapping[str, SkillConfig], understanding: Understanding, *,
                 store: ConversationStore | None = None, providers: Mapping[str, object] | None = None) -> None:
        self._actions = load_actions(skills)
        self._understanding = understanding
        self._store = store if store is not None else MemoryStore()
        self._providers = dict(providers or {})
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
        if ctx.on_piece is None:
            return self._understanding.generate(ctx.skill.name, ctx.text, ctx.history)
        return self._understanding.generate(ctx.skill.name, ctx.text, ctx.history, on_piece=ctx.on_piece)

    def _action(self, ctx: ResponseContext) -> str:
        spec = ctx.intent.action
        where = f"action {spec} (skill '{ctx.skill.name}', intent '{ctx.intent.name}')"
        action = self._actions[ctx.skill.name, ctx.intent.name]
        # Copies: an action that fails half-way must not leave the conversation half-changed.
        args: list[object] = [ctx.frame.model_copy(deep=True), ctx.state.model_copy(deep=True)]
        if _takes(action, 3):
            args.append(ActionContext(frame=args[0], state=args[1], user_id=ctx.user_id,
                                      records=UserRecords(self._store, ctx.user_id),
                                      providers=self._providers, replaces=ctx.replaces, text=ctx.text))
        try:
            reply = action(*args)
        except StoreError:
            raise  # the user's records could not be kept: the turn is not handled, and may be resent
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
    """Import `module:function` and check it takes (frame, state) or (frame, state, context);
    ConfigError says what to fix."""
    module_name, _, function_name = spec.partition(":")

    def fail(problem: str, fix: str) -> ConfigError:
        return ConfigError(f"skill '{skill}'", f"intent '{intent}' declares action '{spec}', but "
                           f"{problem}", field=field, fix=fix)

    function = getattr(_import(module_name, fail), function_name, None)
    if not callable(function):
        raise fail(f"module '{module_name}' has no function '{function_name}'",
                   f"define `def {function_name}(frame, state) -> str` in {module_name}, "
                   "or correct the name after ':'")
    if not (_takes(function, 2) or _takes(function, 3)):
        raise fail(f"'{function_name}' does not accept (frame, state)",
                   f"give it the signature `def {function_name}(frame, state) -> str` "
                   "(or `(frame, state, context)`)")
    return function


def load_factory(spec: str, *, where: str) -> Callable[[], object]:
    """Import `module:factory` (a provider's, say) callable with no arguments; ConfigError if not."""
    module_name, _, name = spec.partition(":")

    def fail(problem: str, fix: str) -> ConfigError:
        return ConfigError("settings", f"'{spec}': {problem}", field=where, fix=fix)

    factory = getattr(_import(module_name, fail), name, None) if name else None
    if not callable(factory) or not _takes(factory, 0):
        raise fail(f"no function '{name}' callable without arguments in module '{module_name}'",
                   "write it as 'module:factory', the factory taking no arguments")
    return factory


def _import(module_name: str, fail: Callable[[str, str], ConfigError]) -> object:
    try:
        return importlib.import_module(module_name)
    except Exception as err:  # ImportError, or whatever the module itself raised on import
        raise fail(f"module '{module_name}' cannot be imported ({type(err).__name__}: {err})",
                   "correct the module path, and run the bot from the folder that contains it "
                   "(or add that folder to PYTHONPATH)") from err


def _takes(function: Callable[..., object], count: int) -> bool:
    """True if `function` can be called with `count` positional arguments."""
    try:
        inspect.signature(function).bind(*([None] * count))
    except TypeError:
        return False
    except ValueError:  # no signature to inspect (some built-ins): let the call decide
        return True
    return True
