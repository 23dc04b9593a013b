"""Plain types shared by every room: an example, a frame (what the model read from a turn)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConversationState", "Example", "Frame", "HistoryEntry", "Reply", "Request", "Route", "SlotValues",
           "Turn"]

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


class Turn(BaseModel):
    """One incoming message, as every adapter hands it to the dialogue manager."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversation_id: str = Field(min_length=1, max_length=200)
    text: str
    user_id: str = "user"
    channel: str = "api"
    turn_id: str | None = None  # set by adapters that may deliver a turn twice (de-duplication)


class Reply(BaseModel):
    """What the bot answers, plus what it understood (for --debug and APIs)."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    text: str
    skill: str | None = None
    frame: Frame | None = None
    seconds: float = 0.0
    # False: the turn may not have been applied (its conversation was busy, or the store failed) and
    # `text` is only an apology; a client should send it again with the same turn_id.
    handled: bool = True


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str  # "user" or "bot"
    text: str


class Request(BaseModel):
    """A request of one skill put aside (a digression) or just completed (a follow-up may change it)."""

    model_config = ConfigDict(extra="forbid")

    skill: str
    intent: str
    slots: SlotValues = Field(default_factory=dict)
    waiting_for: str | None = None
    turn: int = 0  # the conversation's turn count when it was put aside or completed
    reasked: int = 0  # its question's re-asks after turns that went elsewhere (ConversationState.reasked)


class ConversationState(BaseModel):
    """What the store keeps per conversation between turns."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    history: list[HistoryEntry] = Field(default_factory=list)
    active_skill: str | None = None
    active_intent: str | None = None
    slots: SlotValues = Field(default_factory=dict)
    waiting_for: str | None = None  # the required slot the bot asked for
    # how many turns in a row went elsewhere (another skill, not understood) and got the pending
    # question again; past `dialogue.max_reasks` the request is dropped instead of asked once more
    reasked: int = 0
    turns: int = 0
    # turn_id -> reply text for the last few turns that had an id: a redelivered turn (a Slack
    # retry, another worker) gets the same answer instead of a second one.
    replies: dict[str, str] = Field(default_factory=dict)
    suspended: Request | None = None  # a pending request set aside while another skill asks a slot
    last_request: Request | None = None  # the last completed request, for follow-ups


@dataclass(frozen=True)
class Route:
    """The skill a turn belongs to; `skill=None` means out of scope (the fallback reply)."""

    skill: str | None
    confidence: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must lie in [0, 1], got {self.confidence}")
