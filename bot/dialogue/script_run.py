"""Play scripted dialogues through a real DialogueManager and score every turn and conversation.

What is measured is what is served: the turns go through `DialogueManager.handle`, the same door
the adapters use, so routing, slot filling, digressions, follow-ups and actions are all in play.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.dialogue.manager import DialogueManager
from bot.dialogue.scripts import Dialogue, DialogueSet, ScriptTurn
from bot.types import Reply, Turn

__all__ = ["CHECKS", "CategoryScore", "DialogueResult", "TurnResult", "play", "play_set", "score"]

# check name -> (does the script ask for it, does the reply satisfy it)
Check = tuple[Callable[[ScriptTurn], bool], Callable[[ScriptTurn, Reply], bool]]


def _norm(value: str) -> str:
    return " ".join(value.lower().split())


def _slots_match(expected: ScriptTurn, reply: Reply) -> bool:
    got = {name: _norm(value) for name, value in (reply.frame.slots if reply.frame else {}).items()}
    return all(got.get(name) == _norm(value) for name, value in (expected.slots or {}).items())


CHECKS: dict[str, Check] = {
    "skill": (lambda t: t.checks_skill, lambda t, r: r.skill == t.skill),
    "intent": (lambda t: t.intent is not None,
               lambda t, r: r.frame is not None and r.frame.intent == t.intent),
    "slots": (lambda t: t.slots is not None, _slots_match),
    "reply": (lambda t: t.reply is not None, lambda t, r: re.search(t.reply or "", r.text) is not None),
}


@dataclass(frozen=True)
class TurnResult:
    """One played turn: what was expected, what came back, and the checks that failed."""

    script: ScriptTurn
    reply: Reply
    failed: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failed

    def describe(self) -> dict[str, object]:
        frame = self.reply.frame
        return {"user": self.script.user, "reply": self.reply.text, "skill": self.reply.skill,
                "intent": frame.intent if frame else None, "slots": dict(frame.slots) if frame else {},
                "expected": self.script.model_dump(exclude_unset=True, exclude={"user"}),
                "failed": list(self.failed)}


@dataclass(frozen=True)
class DialogueResult:
    dialogue: Dialogue
    turns: tuple[TurnResult, ...]

    @property
    def passed(self) -> bool:
        return all(turn.passed for turn in self.turns)


@dataclass
class CategoryScore:
    """Counts for one category (or for all dialogues: category "all")."""

    category: str
    dialogues: int = 0
    dialogues_passed: int = 0
    turns: int = 0
    turns_passed: int = 0
    checks: dict[str, list[int]] = field(default_factory=dict)  # name -> [passed, asked]

    @property
    def turn_accuracy(self) -> float:
        return self.turns_passed / self.turns if self.turns else 0.0

    @property
    def dialogue_accuracy(self) -> float:
        return self.dialogues_passed / self.dialogues if self.dialogues else 0.0

    def add(self, result: DialogueResult) -> None:
        self.dialogues += 1
        self.dialogues_passed += result.passed
        for turn in result.turns:
            self.turns += 1
            self.turns_passed += turn.passed
            for name, (asked, _) in CHECKS.items():
                if asked(turn.script):
                    counts = self.checks.setdefault(name, [0, 0])
                    counts[0] += name not in turn.failed
                    counts[1] += 1


def play(manager: DialogueManager, dialogue: Dialogue, *, conversation_id: str) -> DialogueResult:
    """Send the dialogue's turns in order, as one user in one fresh conversation."""
    results = []
    for number, script in enumerate(dialogue.turns):
        reply = manager.handle(Turn(conversation_id=conversation_id, user_id=conversation_id,
                                    text=script.user, channel="script", turn_id=f"{conversation_id}:{number}"))
        failed = tuple(name for name, (asked, holds) in CHECKS.items()
                       if asked(script) and not holds(script, reply))
        results.append(TurnResult(script, reply, failed))
    return DialogueResult(dialogue, tuple(results))


def play_set(manager: DialogueManager, dialogues: DialogueSet, *, run_id: str = "script",
             on_dialogue: Callable[[DialogueResult], None] | None = None) -> list[DialogueResult]:
    """Play every dialogue, each in a conversation of its own (`{run_id}-{number}`)."""
    results = []
    for number, dialogue in enumerate(dialogues.dialogues):
        result = play(manager, dialogue, conversation_id=f"{run_id}-{number}")
        results.append(result)
        if on_dialogue is not None:
            on_dialogue(result)
    return results


def score(results: Iterable[DialogueResult]) -> dict[str, CategoryScore]:
    """Scores per category, in the order categories first appear, and "all" last."""
    by_category: dict[str, CategoryScore] = {}
    overall = CategoryScore("all")
    for result in results:
        category = result.dialogue.category
        by_category.setdefault(category, CategoryScore(category)).add(result)
        overall.add(result)
    return {**by_category, "all": overall}
