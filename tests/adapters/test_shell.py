"""The terminal adapter: scripted input lines -> a real DialogueManager (scripted understanding,
memory store) -> what a rich Console prints."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Iterable

import pytest
from rich.console import Console

from bot.adapters import run_shell
from bot.adapters.shell import PROMPT
from bot.config import SkillConfig
from bot.dialogue import DialogueManager, Rule, ScriptedUnderstanding
from bot.dialogue.pieces import OnPiece
from bot.store import MemoryStore
from bot.types import Reply, Turn

TIME = r"(?P<time>\d+ ?[ap]m)"
RULES = [
    Rule(rf"alarm( for {TIME})?", "alarms", "set_alarm"),
    Rule(TIME, "alarms", "set_alarm", confidence=0.6),
    Rule(r"joke", "chat", "chat"),
]
SKILLS = [
    {"name": "alarms", "slots": [{"name": "time"}], "intents": [
        {"name": "set_alarm", "required_slots": ["time"], "response": "Alarm set for {time}.",
         "questions": {"time": "For what time?"}}]},
    {"name": "chat", "intents": [{"name": "chat", "generate": True}]},
]


class Script:
    """An `input` stand-in: hands out lines, then raises `end` (EOFError: Ctrl-D)."""

    def __init__(self, lines: Iterable[str], end: type[BaseException] = EOFError) -> None:
        self.lines, self.end, self.prompts = list(lines), end, []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise self.end
        return self.lines.pop(0)


class Spy:
    """Records each turn the adapter hands over, then lets the real manager answer it."""

    def __init__(self, manager: DialogueManager) -> None:
        self.manager, self.turns = manager, []

    def handle(self, turn: Turn, on_piece: OnPiece | None = None) -> Reply:
        self.turns.append(turn)
        return self.manager.handle(turn, on_piece)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


class Watched(ScriptedUnderstanding):
    """Generates word by word and notes what the console showed before each word was written;
    with `interrupt_at`, Ctrl-C comes after that many words."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        super().__init__(rules)
        self.out: io.StringIO | None = None
        self.seen: list[str] = []
        self.interrupt_at: int | None = None

    def generate(self, skill, text, history, on_piece: OnPiece | None = None) -> str:
        def watched(piece: str) -> None:
            if len(self.seen) == self.interrupt_at:
                raise KeyboardInterrupt
            self.seen.append(self.out.getvalue() if self.out else "")
            on_piece(piece)

        return super().generate(skill, text, history, watched if on_piece else None)


@pytest.fixture
def understanding() -> Watched:
    return Watched(RULES)


@pytest.fixture
def spy(store: MemoryStore, understanding: Watched) -> Spy:
    skills = {raw["name"]: SkillConfig.model_validate(raw) for raw in SKILLS}
    return Spy(DialogueManager(skills, understanding, store))


def chat(spy: Spy, lines: Iterable[str], *, debug: bool = False, end: type[BaseException] = EOFError,
         make_console: Callable[[io.StringIO], Console] | None = None) -> tuple[str, Script]:
    out = io.StringIO()
    understanding = spy.manager.understanding
    if isinstance(understanding, Watched):
        understanding.out = out
    console = (make_console or (lambda file: Console(file=file, width=200)))(out)
    script = Script(lines, end)
    assert run_shell(spy, conversation_id="c1", debug=debug, input_fn=script, console=console) is None
    return out.getvalue(), script


def test_slot_filling_asks_then_confirms(spy: Spy, store: MemoryStore) -> None:
    shown, script = chat(spy, ["set an alarm", "7 am"])
    question, confirmation = shown.index("For what time?"), shown.index("Alarm set for 7 am.")
    assert question < confirmation
    assert "skill=" not in shown  # no debug line unless asked
    assert [(t.conversation_id, t.text, t.channel) for t in spy.turns] == [
        ("c1", "set an alarm", "shell"), ("c1", "7 am", "shell")]
    assert store.load("c1").turns == 2
    assert script.prompts == [PROMPT] * 3  # two turns, then end of input


def test_debug_shows_what_was_understood(spy: Spy) -> None:
    answer = spy.handle
    spy.handle = lambda turn, on_piece=None: answer(turn, on_piece).model_copy(
        update={"seconds": 0.0123})  # each turn took 12.3 ms
    shown, _ = chat(spy, ["set an alarm", "7 am", "what is love"], debug=True)
    lines = shown.splitlines()
    first, second = lines[lines.index("For what time?") + 1], lines[lines.index("Alarm set for 7 am.") + 1]
    assert first == "skill=alarms  intent=set_alarm  slots={}  confidence=1.00  12.3 ms"
    assert second == 'skill=alarms  intent=set_alarm  slots={"time": "7 am"}  confidence=0.60  12.3 ms'
    out_of_scope = lines[lines.index("Sorry, I can't help with that yet. I can help with alarms and chat.") + 1]
    assert out_of_scope == "skill=-  intent=-  slots={}  confidence=-  12.3 ms"


def test_debug_line_is_dim(spy: Spy) -> None:
    shown, _ = chat(spy, ["alarm for 6 pm"], debug=True, make_console=lambda file: Console(
        file=file, width=200, force_terminal=True, color_system="standard"))
    assert "Alarm set for 6 pm." in shown
    assert "\x1b[2mskill=alarms" in shown


@pytest.mark.parametrize("end", [EOFError, KeyboardInterrupt])
def test_end_of_input_and_ctrl_c_end_cleanly(spy: Spy, end: type[BaseException]) -> None:
    shown, script = chat(spy, ["set an alarm"], end=end)
    assert "For what time?" in shown and len(script.prompts) == 2
    assert shown.endswith("For what time?\n\n")  # the cursor leaves the prompt line


def test_ctrl_c_during_a_turn_ends_cleanly(spy: Spy) -> None:
    def interrupted(turn: Turn, on_piece: OnPiece | None = None) -> Reply:
        spy.turns.append(turn)
        raise KeyboardInterrupt

    spy.handle = interrupted
    shown, script = chat(spy, ["set an alarm", "never read"])  # chat() checks run_shell returned, not raised
    assert [t.text for t in spy.turns] == ["set an alarm"] and script.prompts == [PROMPT]
    assert script.lines == ["never read"]  # no prompt after the interrupted turn
    assert shown == "Type 'quit' or press Ctrl-D to end.\n\n"  # no reply; the cursor leaves the prompt line


@pytest.mark.parametrize("word", ["quit", "exit", "  QUIT  "])
def test_quit_words_end_without_reading_further(spy: Spy, word: str) -> None:
    _, script = chat(spy, ["set an alarm", word, "7 am"])
    assert [t.text for t in spy.turns] == ["set an alarm"]
    assert script.lines == ["7 am"]


def test_empty_lines_are_skipped(spy: Spy) -> None:
    shown, _ = chat(spy, ["", "   ", "  set an alarm  ", "\t", "7 am"])
    assert [t.text for t in spy.turns] == ["set an alarm", "7 am"]
    assert "Alarm set for 7 am." in shown


def test_reply_text_is_printed_literally(spy: Spy) -> None:
    shown, _ = chat(spy, ["joke [bold]x[/bold] :smile:"])
    assert "(chat) joke [bold]x[/bold] :smile:" in shown


def test_a_generated_reply_is_shown_word_by_word_as_it_is_written(spy: Spy, understanding: Watched) -> None:
    shown, _ = chat(spy, ["set an alarm", "tell me a joke", "7 am"])
    intro = "Type 'quit' or press Ctrl-D to end.\nFor what time?\n"
    # before each word is written, the words before it are already on the screen, on one line
    assert understanding.seen == [intro, intro + "(chat)", intro + "(chat) tell", intro + "(chat) tell me",
                                  intro + "(chat) tell me a"]  # a space waits for the word after it
    # the rest of the reply (the pending question again) follows on the same line when the turn ends
    assert shown == intro + ("(chat) tell me a joke Back to your alarms request: For what time?\n"
                             "Alarm set for 7 am.\n\n")


def test_ctrl_c_while_a_reply_is_written_ends_its_line(spy: Spy, understanding: Watched) -> None:
    understanding.interrupt_at = 2  # Ctrl-C as the third word is about to be written
    shown, script = chat(spy, ["tell me a joke", "never read"])
    assert shown == "Type 'quit' or press Ctrl-D to end.\n(chat) tell\n"  # two words, then the cursor's own line
    assert script.lines == ["never read"]


def test_a_reply_in_pieces_wraps_at_spaces_within_the_console_width(spy: Spy) -> None:
    """The console cannot wrap a reply it gets in pieces; the shell does, as it wrapped a whole reply."""
    text = "tell me a joke about a very long day at the office"
    shown, _ = chat(spy, ["set an alarm", text], make_console=lambda file: Console(file=file, width=30))
    reply = shown.split("For what time?\n", 1)[1].rstrip("\n").split("\n")
    assert reply == textwrap.wrap(f"(chat) {text} Back to your alarms request: For what time?", 30)
    assert reply == ["(chat) tell me a joke about a", "very long day at the office", "Back to your alarms request:",
                     "For what time?"]  # generated word by word, then the resumed question in one piece
