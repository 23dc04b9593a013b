"""How conversations follow the user: the digression policy's thresholds and the replies it adds.

The policy itself (which reading of a turn wins) is the table in `bot/dialogue/policy.py`; these
are its knobs, set under `dialogue:` in the bot's YAML file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_CORRECTION_WORDS", "DEFAULT_FILLER_WORDS", "DEFAULT_QUESTION_WORDS", "DialogueSettings"]

# Words that carry no request of their own: a turn of only these and slot values ("and tomorrow?",
# "what about in madrid", "no wait, wednesday", "hi, 7 am") is an answer, a correction or a
# follow-up; a turn of only these and no question word ("ok thanks", "thx") asks for nothing: no
# free-text answer (policy footnote (k)), no other intent while a request waits, and with nothing
# pending no request unless the router is sure of a skill (row 7c).
DEFAULT_FILLER_WORDS = (
    "a", "about", "actually", "again", "alright", "also", "an", "and", "at", "awesome", "but", "by", "bye",
    "change", "cheers", "cool", "do", "for", "from", "great", "hello", "hey", "hi", "hmm", "how", "how's",
    "hows", "i", "in", "instead", "is", "it", "just", "k", "kk", "lol", "make", "maybe", "mean", "meant",
    "no", "now", "of", "oh", "ok", "okay", "on", "or", "perfect", "please", "rather", "same", "so",
    "sorry", "sure", "thank", "thanks", "thanx", "that", "the", "then", "there", "thnx", "thx", "to", "try",
    "ty", "uh", "um", "wait", "well", "what", "what's", "whats", "with", "yeah", "yep", "yes", "you", "yup",
)

# Phrases that mark a turn as a change of mind ("no, 8 am", "actually make it 8:15"): such a turn
# of only slot values of the last request's intent corrects that request, whatever intent the
# skill reads from it (there are no intent words in it to read). Their words count as fillers.
DEFAULT_CORRECTION_WORDS = (
    "actually", "change it", "i mean", "i meant", "instead", "make it", "make that", "no", "rather",
    "sorry",
)

# Words that make a turn a question: a question is a new request even with a correction cue
# ("actually, what's on friday" after a removal asks; counted as a change of mind it would remove).
DEFAULT_QUESTION_WORDS = ("how", "how's", "hows", "what", "what's", "whats", "when", "where", "which", "who")


class DialogueSettings(BaseModel):
    """Thresholds of the digression policy, the follow-up window, the texts they add to a reply, and
the providers (weather, music) the shipped skills' actions call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the router's confidence needed to leave a pending request for another skill (or to outweigh
    # the waiting skill's answer with "out of scope", unless the turn is only slot values of the
    # pending intent: policy row 4b); the re-tuned routers' right digressions score about 0.6 (0.8
    # suited the generative reader; the README gives the sweep)
    switch_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    # the pending skill's confidence needed for its reading to count as the answer, when the
    # router did not choose that skill itself
    answer_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    # a turn of only slots counts as a follow-up of a request completed this many turns ago or fewer
    follow_up_turns: int = Field(default=2, ge=0)
    filler_words: tuple[str, ...] = DEFAULT_FILLER_WORDS
    # a turn with one of these is a correction (policy footnote (i)); () = only the intent read decides
    # (in YAML quote "no": a bare no is false)
    correction_words: tuple[str, ...] = DEFAULT_CORRECTION_WORDS
    # ... unless it also has one of these: then it is a question, and the intent read decides
    question_words: tuple[str, ...] = DEFAULT_QUESTION_WORDS
    # a turn whose letters are less than this share Latin is not one the model can read
    min_latin_share: float = Field(default=0.5, ge=0.0, le=1.0)
    # turns in a row that go elsewhere and still get the pending question again; the next one drops
    # the request (with `dropped_reply`), so a request the user has left does not follow every reply
    max_reasks: int = Field(default=3, ge=0)
    resume_reply: str = "Back to your {skill} request: {question}"
    # after the fallback when nothing is pending, so "hi there" learns what the bot is for ("" = off)
    help_reply: str = "I can help with {skills}."
    dropped_reply: str = "(I've dropped your {skill} request; ask again any time.)"
    follow_up_reply: str = "Updated your last request ({changes}). {reply}"
    # outside services the skills' actions call, name -> "module:factory" (bot/dialogue/actions/providers.py)
    providers: dict[str, str] = Field(default_factory=dict)
    unreadable_replies: dict[str, str] = Field(default_factory=lambda: {
        "empty": "I got an empty message. What can I do for you?",
        "symbols": "I can't read emoji or symbols on their own; could you say it in words?",
        "script": "Sorry, I can only read English for now. Could you say that in English?",
    })

    @property
    def fillers(self) -> tuple[str, ...]:
        """What a turn of only slot values may say besides them: the filler words and the words of
        the correction phrases ("scratch that, 8 am" needs no "scratch" among the fillers)."""
        return (*self.filler_words, *(word for phrase in self.correction_words for word in phrase.split()))
