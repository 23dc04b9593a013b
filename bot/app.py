"""The composition root: `Bot` wires settings, the one model, the skills, the router, the store and
the dialogue manager together, once. `bot chat`, `bot serve`, `bot bench serve` and the tests build
their bot here; nothing else wires the pieces.

    from bot import Bot

    bot = Bot.load()                                    # configs/default.yaml, every skill, the router
    reply = bot.reply("c1", "set an alarm for 7 am")    # Reply(skill="alarm", text="Alarm set for 7 am.")

Every method may be called from many threads or tasks at once: turns of one conversation take its
lock in the store, and reads from all of them are batched by one `ReadBatcher` (as in `bot serve`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from bot.config.settings import DEFAULT_CONFIG, BotSettings, load_settings
from bot.errors import BotError, ConfigError
from bot.types import Frame, Reply, Turn

if TYPE_CHECKING:
    from bot.dialogue import DialogueManager
    from bot.model.base import BaseModel
    from bot.model.batching import ReadBatcher
    from bot.model.prefix_cache import ReaderCache
    from bot.model.runtime import Runtime
    from bot.model.understanding import ModelUnderstanding
    from bot.skills.skill import Skill
    from bot.store import ConversationStore

__all__ = ["Bot", "load_skills"]

OUT_OF_SCOPE = "out_of_scope"  # the intent `Bot.read` gives a turn the router sends to no skill


class Bot:
    """A loaded bot: `reply`/`areply`/`stream`/`astream` answer turns, `read` only understands."""

    def __init__(self, settings: BotSettings, manager: DialogueManager, understanding: ModelUnderstanding, *,
                 skills: Mapping[str, Skill], router: Skill | None) -> None:
        self.settings, self.manager, self.understanding = settings, manager, understanding
        self._skills, self.router = dict(skills), router

    @classmethod
    def load(cls, skills: str | Path | None = None, config: str | Path | None = DEFAULT_CONFIG, *,
             model: str | None = None, device: str | None = None) -> Bot:
        """Load the model once, every skill under `skills` (default: the config's `skills_dir`) and
        the router. `config=None` reads no file. Raises the BotErrors the command line prints."""
        return cls.from_settings(load_settings(config, skills_dir=skills, model=model, device=device))

    @classmethod
    def from_settings(cls, settings: BotSettings, *, base: BaseModel | None = None,
                      readers: ReaderCache | None = None, batcher: ReadBatcher | None = None,
                      store: ConversationStore | None = None) -> Bot:
        """The one wiring. Pass `base` or `readers` to share a loaded model (tests, benchmarks),
        `batcher` to choose how reads batch, `store` to use a store other than the configured one."""
        _quiet_model_loading()  # before bot.model imports transformers
        from bot.dialogue import DialogueManager
        from bot.model.batching import ReadBatcher
        from bot.model.prefix_cache import ReaderCache
        from bot.model.understanding import ModelUnderstanding
        from bot.store import open_store

        skills, router = load_skills(settings.skills_dir)
        _importable_actions(settings.skills_dir)
        opened = open_store(settings.store) if store is None else None  # Redis down: said before the model loads
        try:
            if readers is None:
                readers = ReaderCache(runtime_for(base if base is not None else load_model(settings)))
            for skill in [*skills.values(), *([router] if router else [])]:
                readers.get(skill)  # a table of another model fails now; prefixes are built before turn one
                _warn_if_stale(skill)
            understanding = ModelUnderstanding(readers.runtime, skills, router=router, readers=readers,
                                               batcher=batcher or ReadBatcher(),
                                               min_route_confidence=settings.min_route_confidence)
            manager = DialogueManager({n: s.config for n, s in skills.items()}, understanding,
                                      opened or store, fallback_reply=settings.fallback_reply,
                                      policy=settings.dialogue)
        except BaseException:
            if opened is not None:
                opened.close()
            raise
        return cls(settings, manager, understanding, skills=skills, router=router)

    @property
    def skills(self) -> Mapping[str, Skill]:
        """The loaded skills by name (the router is `bot.router`)."""
        return MappingProxyType(self._skills)

    @property
    def store(self) -> ConversationStore:
        """Where conversations live (adapters mark delivered events there too)."""
        return self.manager.store

    @property
    def readers(self) -> ReaderCache:
        return self.understanding.readers

    @property
    def model_name(self) -> str:
        return self.understanding.runtime.base.name

    def handle(self, turn: Turn, on_piece: Callable[[str], None] | None = None) -> Reply:
        """Answer a whole `Turn` (what the adapters hand over); `on_piece` gets the reply's text
        as it is produced (see `DialogueManager.handle`). While it runs, the batcher knows this
        turn's next read is coming and holds a batch for it (bot/model/batching.py)."""
        with self.understanding.batcher.turn():
            return self.manager.handle(turn, on_piece)

    def reply(self, conversation_id: str, text: str, *, user_id: str | None = None,
              turn_id: str | None = None) -> Reply:
        """The bot's reply to `text` in the conversation; a `turn_id` sent again gets the same reply."""
        return self.handle(_turn(conversation_id, text, user_id, turn_id))

    async def areply(self, conversation_id: str, text: str, *, user_id: str | None = None,
                     turn_id: str | None = None) -> Reply:
        """`reply` on a worker thread, so the event loop goes on serving other tasks meanwhile."""
        return await asyncio.to_thread(self.reply, conversation_id, text, user_id=user_id, turn_id=turn_id)

    def stream(self, conversation_id: str, text: str, *, user_id: str | None = None,
               turn_id: str | None = None) -> Iterator[str]:
        """The reply's text in pieces as it is produced (a generated reply token by token, a
        template reply whole); they join to `reply(...).text`. The turn runs on its own thread and is
        stored whole even if the caller stops reading early."""
        pieces: queue.SimpleQueue[str | _Done] = queue.SimpleQueue()
        turn = _turn(conversation_id, text, user_id, turn_id)

        def answer() -> None:
            try:
                self.handle(turn, pieces.put)
                pieces.put(_Done())
            except BaseException as err:  # noqa: BLE001 - raised again in the caller's thread
                pieces.put(_Done(err))

        threading.Thread(target=answer, name=f"bot-stream-{conversation_id}", daemon=True).start()
        while not isinstance(piece := pieces.get(), _Done):
            yield piece
        if piece.error is not None:
            raise piece.error

    async def astream(self, conversation_id: str, text: str, *, user_id: str | None = None,
                      turn_id: str | None = None) -> AsyncIterator[str]:
        """`stream` for async code: the turn runs on a worker thread, pieces arrive on the loop."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        turn = _turn(conversation_id, text, user_id, turn_id)
        task = asyncio.ensure_future(asyncio.to_thread(
            self.handle, turn, lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)))
        task.add_done_callback(lambda _: pieces.put_nowait(None))  # after every piece the thread sent
        while (piece := await pieces.get()) is not None:
            yield piece
        await task  # its error, if any

    def read(self, text: str, skill: str | None = None) -> Frame:
        """Understanding only: the frame `skill` reads (default: the skill the router picks); no state
        changes. A turn the router sends to no skill reads as intent 'out_of_scope'."""
        with self.understanding.batcher.turn():
            return self._read(text, skill)

    def _read(self, text: str, skill: str | None) -> Frame:
        if skill is None:
            route = self.understanding.route(text, ())
            if route.skill is None:
                return Frame(intent=OUT_OF_SCOPE, confidence=route.confidence)
            skill = route.skill
        if skill not in self._skills:
            raise BotError(f"no skill '{skill}' is loaded (loaded: {', '.join(sorted(self._skills))})")
        return self.understanding.read(skill, text, ())

    def close(self) -> None:
        """Stop the read batcher's thread and close the store."""
        self.understanding.batcher.close()
        self.manager.store.close()

    def __enter__(self) -> Bot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _warn_if_stale(skill: Skill) -> None:
    """A table tuned on other examples than the skill has now still serves, but the log says so."""
    from bot.config import PromptMode
    from bot.skills.manifest import stale_warning

    if skill.config.mode == PromptMode.tuned and (warning := stale_warning(skill.table_dir, skill.examples())):
        logging.getLogger("bot").warning("skill %s: %s", skill.name, warning)


def load_model(settings: BotSettings) -> BaseModel:
    """The base model of `settings`, loaded without progress bars on stderr."""
    _quiet_model_loading()
    if settings.cache_dir is not None:  # the model room reads the cache folder from the environment
        os.environ["BOT_CACHE_DIR"] = str(settings.cache_dir.expanduser())
    from bot.model.base import load_base_model

    return load_base_model(settings.model, device=settings.device, dtype=settings.dtype)


_RUNTIMES_LOCK = threading.Lock()


def runtime_for(base: BaseModel) -> Runtime:
    """The one Runtime of a loaded model, shared by every Bot built on it for the model's lifetime:
    a second Runtime on the same model reads differently (found in issue 12; the model room's to fix)."""
    from bot.model.runtime import Runtime

    with _RUNTIMES_LOCK:  # kept on the model object itself, so it lives exactly as long as the model
        runtime = base.__dict__.get("_bot_runtime")
        if runtime is None:
            runtime = base.__dict__["_bot_runtime"] = Runtime(base)
        return runtime


def _quiet_model_loading() -> None:
    """No 'Loading weights' bar: transformers reads huggingface_hub's switch when first imported."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def load_skills(skills_dir: Path) -> tuple[dict[str, Skill], Skill | None]:
    """Every skill under `skills_dir` by name, and the router (`_router/`, once tuned if in tuned
    mode); a clear error when the folder or its skills are missing."""
    from bot.config import PromptMode
    from bot.skills.router import ROUTER_DIR, list_skills
    from bot.skills.skill import CONFIG_FILE, load_skill

    folder = Path(skills_dir)
    if not folder.is_dir():
        raise ConfigError(folder, f"skills folder not found (looked in {folder.resolve()})", field="skills_dir",
                          fix="run from the project folder, pass --config PATH/configs/default.yaml, "
                          "or set BOT_SKILLS_DIR")
    found = {skill.name: skill for skill in list_skills(folder)}
    if not found:
        raise ConfigError(folder, "no skills here (no <name>/skill.yaml)", field="skills_dir",
                          fix="create one with `bot new NAME`")
    router_dir = folder / ROUTER_DIR
    router = load_skill(router_dir) if (router_dir / CONFIG_FILE).is_file() else None
    if router is not None and router.config.mode == PromptMode.tuned and not router.table_dir.is_dir():
        router = None  # built by `bot tune --router` but not tuned yet: one skill alone needs none
    return found, router


def _importable_actions(skills_dir: Path) -> None:
    """Skills' actions are imported as module:function from the project folder (skills' parent)."""
    project = str(Path(skills_dir).resolve().parent)
    if project not in sys.path:
        sys.path.insert(0, project)


def _turn(conversation_id: str, text: str, user_id: str | None, turn_id: str | None) -> Turn:
    return Turn(conversation_id=conversation_id, text=text, user_id=user_id or "user", channel="python",
                turn_id=turn_id)


class _Done:
    """The end of a stream's pieces, with the error that ended it, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
