"""Plain types shared by every room: an example, a frame (what the model read from a turn)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Example", "Frame", "SlotValues"]

SlotValues = dict[str, str]


class Example(BaseModel):
    """One labelled utterance: the text, its intent and the slot values copied from the text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    intent: str
    slots: SlotValues = Field(default_factory=dict)


class Frame(BaseModel):
    """The structured reading of one turn: intent, slots, and how sure the model was."""

    model_config = ConfigDict(extra="forbid")

    intent: str
    slots: SlotValues = Field(default_factory=dict)
    confidence: float = Field(ge=0.0, le=1.0)
    reasoning: str | None = None
