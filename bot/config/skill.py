"""`skill.yaml`: what a skill understands (intents, slots) and how it is prompted and tuned."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.config.templates import template_fields
from bot.errors import ConfigError

__all__ = [
    "IntentConfig",
    "IntentPool",
    "PromptMode",
    "SkillConfig",
    "SlotConfig",
    "TableMethod",
    "TuningConfig",
    "load_skill_config",
]

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
ACTION_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
ACTION_FIX = "write it as 'module:function', e.g. 'skills.alarms.actions:set_alarm'"


class PromptMode(str, Enum):
    """How the frozen model is asked: instructions only, with examples, with reasoning, or a table."""

    zero_shot = "zero_shot"
    few_shot = "few_shot"
    chain_of_thought = "chain_of_thought"
    tuned = "tuned"


class TableMethod(str, Enum):
    """Which virtual-token table `bot tune` learns.

    `deep_prompt`: P-tuning v2 / prefix tuning, learned key/value prefixes at every layer.
    `p_tuning`: input-layer tokens produced by an MLP prompt encoder (encoder dropped on save).
    `prompt_tuning`: input-layer tokens learned directly, initialised from the skill's text.
    """

    deep_prompt = "deep_prompt"
    p_tuning = "p_tuning"
    prompt_tuning = "prompt_tuning"


class WordState(str, Enum):
    """What the tag head reads for a word: its first token's state, or the mean of its tokens'."""

    first = "first"
    mean = "mean"


class IntentPool(str, Enum):
    """What the intent head reads: the mean over the turn's tokens, its last token, or both."""

    mean = "mean"
    last = "last"
    last_and_mean = "last+mean"


class _LocatedError(ValueError):
    """A cross-field error that still knows which field and fix to report."""

    def __init__(self, message: str, *, loc: tuple, fix: str) -> None:
        super().__init__(message)
        self.loc, self.fix = loc, fix


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlotConfig(_Strict):
    """A piece of information the skill copies out of the user's words."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    # asked for, the answer's own words are the value when the skill tags none in it: a slot of free
    # text (an event's name: "football practice", "lunch with sam") that no tagger can know all of
    from_answer: bool = False


class IntentConfig(_Strict):
    """One thing a user can ask the skill for, and how the bot answers it."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    required_slots: list[str] = Field(default_factory=list)
    # the slots this intent can carry (None: any of the skill's); the decoder names no other
    slots: list[str] | None = None
    response: str = ""  # a template: "Alarm set for {time}."
    questions: dict[str, str] = Field(default_factory=dict)  # slot -> what to ask when it is missing
    action: str | None = Field(default=None, pattern=ACTION_PATTERN)  # "module:function"
    generate: bool = False  # answer with text the model generates


class TuningConfig(_Strict):
    """Settings of one tuning run (deep prompt + read-out heads); defaults chosen on SNIPS dev."""

    method: TableMethod = TableMethod.deep_prompt
    virtual_tokens: int = Field(default=16, ge=1, le=256)
    steps: int = Field(default=5000, ge=1)
    max_minutes: float = Field(default=9.0, gt=0)
    batch_size: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=1e-2, gt=0)  # the prompt's
    head_learning_rate: float = Field(default=3e-3, gt=0)
    # hidden states the heads read (0 = embeddings, -1 = last layer; -19 is layer 12 of 30;
    # layers above the deepest one read are never run)
    read_layers: list[int] = Field(default_factory=lambda: [-19], min_length=1)
    # give the turn twice and read the second copy: every token of it has seen the whole turn. None:
    # only for a skill with slots (an intent reads as well from one copy, at half the tokens: the
    # turn mean of layer 12 with echo and without, SNIPS 96.6 / 96.7, HWU64 88.3 / 87.8, CLINC150 94.3 / 94.2)
    echo: bool | None = None
    word: WordState = WordState.mean  # a word's state for the tag head: the mean of its tokens' (or the first's)
    context: int = Field(default=128, ge=0, le=512)  # bidirectional GRU over the words before the tag head (0: none)
    word_dropout: float = Field(default=0.2, ge=0.0, lt=1.0)  # dropout on the word states while training
    # the heads' targets keep this share of their weight spread over the other labels (intent and tags)
    label_smoothing: float = Field(default=0.1, ge=0.0, lt=1.0)
    pool: IntentPool = IntentPool.mean  # what the intent head reads: the mean over the turn (or its last token, or both)
    # share of the time cap spent fitting the heads alone on cached states before the joint tuning
    warm_start: float = Field(default=0.6, ge=0.0, le=1.0)
    # once the checkpoint is chosen, fit the heads again on every example, dev included (the dev
    # figures are read before): a tenth more data, which a few-data skill feels (+1 frame point
    # on 1,000 SNIPS examples)
    refit: bool = True
    seed: int = 0
    dev_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    eval_every: int = Field(default=100, ge=1)
    patience: int = Field(default=4, ge=1)


class SkillConfig(_Strict):
    """A whole skill: names, schema, prompting mode and tuning settings."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    intents: list[IntentConfig] = Field(min_length=1)
    slots: list[SlotConfig] = Field(default_factory=list)
    mode: PromptMode = PromptMode.tuned
    few_shot_examples: int = Field(default=8, ge=0, le=64)
    tuning: TuningConfig = Field(default_factory=TuningConfig)

    @field_validator("intents", "slots")
    @classmethod
    def _unique_names(cls, items: list[IntentConfig] | list[SlotConfig]) -> list:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"name '{item.name}' appears twice; names must be unique")
            seen.add(item.name)
        return items

    @model_validator(mode="after")
    def _required_slots_exist(self) -> "SkillConfig":
        known = {s.name for s in self.slots}
        for number, intent in enumerate(self.intents):
            for slot in intent.required_slots:
                if slot not in known:
                    raise _LocatedError(
                        f"intent '{intent.name}' requires slot '{slot}', which is not under 'slots'",
                        loc=("intents", number, "required_slots"),
                        fix=f"add '{slot}' under 'slots' or remove it from required_slots")
                if intent.slots is not None and slot not in intent.slots:
                    raise _LocatedError(
                        f"intent '{intent.name}' requires slot '{slot}' but does not list it in its 'slots'",
                        loc=("intents", number, "slots"), fix=f"add '{slot}' to the intent's slots")
            for slot in intent.slots or ():
                if slot not in known:
                    raise _LocatedError(
                        f"intent '{intent.name}' lists slot '{slot}', which is not under 'slots'",
                        loc=("intents", number, "slots"),
                        fix=f"add '{slot}' under 'slots' or remove it from the intent's slots")
        return self

    @model_validator(mode="after")
    def _responses_are_consistent(self) -> "SkillConfig":
        for number, intent in enumerate(self.intents):
            _check_responses(intent, self.slot_names, ("intents", number))
        return self

    @property
    def intent_names(self) -> list[str]:
        return [i.name for i in self.intents]

    @property
    def slot_names(self) -> list[str]:
        return [s.name for s in self.slots]

    @property
    def intent_slots(self) -> dict[str, list[str]]:
        """The slots each intent can carry: its own list, or every slot of the skill."""
        return {i.name: self.slot_names if i.slots is None else list(i.slots) for i in self.intents}

    def intent(self, name: str) -> IntentConfig:
        return next(i for i in self.intents if i.name == name)


def _check_responses(intent: IntentConfig, known: list[str], loc: tuple) -> None:
    """One way of answering per intent; questions and templates only about declared slots."""
    chosen = [key for key, used in (("response", intent.response), ("action", intent.action),
                                    ("generate", intent.generate)) if used]
    if len(chosen) > 1:
        raise _LocatedError(f"intent '{intent.name}' sets {' and '.join(chosen)}; an intent answers "
                            "in one way", loc=loc + (chosen[1],), fix=f"keep one of {', '.join(chosen)}")
    for slot in intent.questions:
        if slot not in known:
            raise _LocatedError(f"intent '{intent.name}' has a question for slot '{slot}', which is "
                                "not under 'slots'", loc=loc + ("questions", slot),
                                fix=f"use one of the declared slots ({', '.join(known) or 'none'})")
    _check_template(intent.response, known, loc + ("response",))
    for slot, question in intent.questions.items():
        _check_template(question, known, loc + ("questions", slot))


def _check_template(template: str, known: list[str], loc: tuple) -> None:
    """A template may only name declared slots, so no reply ever shows a raw `{placeholder}`."""
    try:
        names = template_fields(template)
    except ValueError as err:
        raise _LocatedError(str(err), loc=loc, fix="write placeholders as {slot_name}; "
                            "double a literal brace ({{ or }})") from None
    for name in names:
        if name not in known:
            raise _LocatedError(f"template {template!r} uses {{{name}}}, which is not a slot under "
                                "'slots'", loc=loc,
                                fix=f"use one of the declared slots ({', '.join(known) or 'none'})")


def load_skill_config(path: Path) -> SkillConfig:
    """Read and validate a `skill.yaml`; every problem names the file, line, field and fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "file not found", fix="create it, e.g. with `bot new NAME`")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes().count(b"\n", 0, err.start) + 1
        raise ConfigError(path, f"not UTF-8 text (byte {err.start})", line=line,
                          fix="save skill.yaml as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, f"not valid YAML ({getattr(err, 'problem', err)})", line=line,
                          fix="check indentation and quoting on that line") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, "expected a mapping with 'name', 'intents', 'slots'",
                          fix="see skills/*/skill.yaml for the layout")
    try:
        return SkillConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        located = first.get("ctx", {}).get("error")
        loc = located.loc if isinstance(located, _LocatedError) else first["loc"]
        fix = located.fix if isinstance(located, _LocatedError) else _fix_for(first)
        message = str(located) if isinstance(located, _LocatedError) else first["msg"]
        field = ".".join(str(p) for p in loc) or None
        raise ConfigError(path, message, line=_line_of(text, loc), field=field, fix=fix) from None


def _line_of(text: str, loc: tuple) -> int | None:
    """Line of the YAML node at a pydantic error location (the deepest part that exists)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        node, key_line = _child(node, part)
        if node is None:
            break
        line = key_line
    return line


def _child(node: yaml.Node, part: object) -> tuple[yaml.Node | None, int | None]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line + 1
    return None, None


def _fix_for(error: dict) -> str:
    kind = error["type"]
    if error["loc"] and error["loc"][-1] == "action" and kind == "string_pattern_mismatch":
        return ACTION_FIX
    if kind == "extra_forbidden":
        return "remove the field or correct its spelling"
    if kind == "missing":
        return "add the field"
    if kind == "enum":
        return f"use one of the allowed values ({error.get('ctx', {}).get('expected', '')})"
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '_', '-' or '.', starting with a letter"
    return "correct the value"
