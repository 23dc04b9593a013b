"""The train and evaluation splits both systems share, read from any `--data` format.

No --eval-data: the training data is de-duplicated, shuffled with `seed`, and its first
`dev_fraction` (at least one example) becomes the evaluation split; the rest is the training
split. `max_train` / `max_eval` then take seeded samples of each (the same for every system).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DataError
from bot.skills.examples import text_key
from bot.skills.importers import dedupe_examples, read_dataset
from bot.types import Example

__all__ = ["BenchData", "load_bench_data", "seeded_sample"]

DEFAULT_SPLIT = "train"


@dataclass(frozen=True)
class BenchData:
    """The two splits and where they came from (for the report)."""

    train: list[Example]
    eval: list[Example]
    train_source: str
    eval_source: str
    carved: bool  # the evaluation split was held out of --data (no --eval-data)
    overlap: int  # evaluation texts that also occur in the training split


def seeded_sample(examples: Sequence[Example], limit: int | None, seed: int) -> list[Example]:
    """All examples, or `limit` of them drawn with a seeded generator."""
    if limit is None or limit >= len(examples):
        return list(examples)
    return random.Random(seed).sample(list(examples), limit)


def load_bench_data(data: Path, *, split: str | None = None, eval_data: Path | None = None,
                    eval_split: str | None = None, dev_fraction: float = 0.1, seed: int = 0,
                    max_train: int | None = None, max_eval: int | None = None) -> BenchData:
    """Read --data (and --eval-data), hold out a dev split when needed, then sample."""
    train = dedupe_examples(read_dataset(data, split=split))
    train_source = _source(data, split)
    if eval_data is None:
        train, held_out = _carve(train, dev_fraction, seed, data)
        eval_source = f"a seeded {dev_fraction:.0%} held out of {train_source} (seed {seed})"
    else:
        _check_not_training(data, split, eval_data, eval_split)
        held_out, eval_source = read_dataset(eval_data, split=eval_split), _source(eval_data, eval_split)
    train, held_out = seeded_sample(train, max_train, seed), seeded_sample(held_out, max_eval, seed)
    if not held_out:
        raise DataError(eval_data or data, "no examples to evaluate on", fix="check --eval-data / --eval-split")
    seen = {text_key(e.text) for e in train}
    return BenchData(train=train, eval=held_out, train_source=train_source, eval_source=eval_source,
                     carved=eval_data is None, overlap=sum(text_key(e.text) in seen for e in held_out))


def _source(path: Path, split: str | None) -> str:
    return f"{path}" + (f" (split {split})" if split else "")


def _carve(examples: list[Example], fraction: float, seed: int, where: Path) -> tuple[list[Example], list[Example]]:
    if len(examples) < 2:
        raise DataError(where, f"{len(examples)} example(s): too few to hold out an evaluation split",
                        fix="add examples, or pass --eval-data")
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    count = min(len(shuffled) - 1, max(1, round(len(shuffled) * fraction)))
    return shuffled[count:], shuffled[:count]


def _check_not_training(data: Path, split: str | None, eval_data: Path, eval_split: str | None) -> None:
    """Refuse to evaluate on the very split trained on (e.g. --eval-data without --eval-split)."""
    same_path = Path(data).resolve() == Path(eval_data).resolve()
    if same_path and (split or DEFAULT_SPLIT) == (eval_split or DEFAULT_SPLIT):
        raise DataError(eval_data, f"the evaluation split is the training split ('{split or DEFAULT_SPLIT}')",
                        fix="pass --eval-split (e.g. dev or val), or leave out --eval-data to hold out "
                            "a seeded dev split of --data")
