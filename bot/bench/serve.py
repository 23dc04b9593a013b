"""`bot bench serve`: many concurrent conversations over a mix of skills, batched vs one at a time.

Each conversation is a thread that sends its turns one after another to a `Bot` (the one
composition root, as `bot serve` runs each request in a worker thread); every model read goes
through the `ReadBatcher`. The same turns run twice in one process on one model: with
`max_batch=1` (one at a time) and batched. Latency is a turn's wall time as its sender saw it.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from bot.app import Bot
from bot.config.settings import BotSettings
from bot.model.batching import ReadBatcher
from bot.skills.skill import Skill
from bot.store import MemoryStore
from bot.tuning.metrics import percentile
from bot.types import Turn

if TYPE_CHECKING:
    from bot.model.base import BaseModel as LoadedModel
    from bot.model.prefix_cache import ReaderCache

__all__ = ["LEVELS", "ServeLevel", "ServeReport", "bench_serve", "serve_table", "write_serve_report"]

LEVELS = (1, 4, 16, 64)
MIN_TURNS = 16  # per level, so that one conversation alone still gives a p95


class ServeLevel(BaseModel):
    batching: str  # "one_at_a_time" or "batched"
    concurrency: int
    turns: int
    seconds: float
    turns_per_second: float
    latency_p50_ms: float
    latency_p95_ms: float
    decode_tokens_per_second: float
    mean_batch: float
    cpu_seconds: float = 0.0  # the process's CPU time over the level: comparable on a shared machine
    batch_sizes: dict[int, int] = {}  # reads in a batch -> how many batches


class ServeReport(BaseModel):
    model: str
    skills: list[str]
    max_batch: int
    wait_ms: float
    gather_ms: float = 0.0
    levels: list[ServeLevel]

    def level(self, batching: str, concurrency: int) -> ServeLevel | None:
        return next((l for l in self.levels if l.batching == batching and l.concurrency == concurrency), None)

    def speedup(self, concurrency: int) -> float | None:
        one, batched = self.level("one_at_a_time", concurrency), self.level("batched", concurrency)
        return batched.turns_per_second / one.turns_per_second if one and batched else None

    def cpu_saving(self, concurrency: int) -> float | None:
        """One-at-a-time CPU time per turn over batched: the speedup as a machine shared with other
        work sees it (wall time there depends on what else runs)."""
        one, batched = self.level("one_at_a_time", concurrency), self.level("batched", concurrency)
        if not (one and batched and one.turns and batched.turns and batched.cpu_seconds):
            return None
        return (one.cpu_seconds / one.turns) / (batched.cpu_seconds / batched.turns)

    def p95_over_single(self, concurrency: int) -> float | None:
        """Batched p95 at `concurrency` over the p50 of one conversation alone (the target: <= 2)."""
        single, batched = self.level("one_at_a_time", 1), self.level("batched", concurrency)
        return batched.latency_p95_ms / single.latency_p50_ms if single and batched else None


def turn_mix(skills: Sequence[Skill], count: int, seed: int = 0) -> list[str]:
    """`count` messages drawn in turn from each skill's examples (seeded)."""
    rng = random.Random(seed)
    pools = [[e.text for e in skill.examples()] for skill in skills]
    return [rng.choice(pools[i % len(pools)]) for i in range(count)]


def bench_serve(settings: BotSettings, *, base: LoadedModel | None = None, levels: Sequence[int] = LEVELS,
                max_batch: int = 16, wait_seconds: float = 0.005, gather_seconds: float = 0.05,
                turns_per_conversation: int = 2,
                on_level: Callable[[ServeLevel], None] | None = None) -> ServeReport:
    """Run every level one at a time, then batched, on the same turns. Each level is a `Bot` of
    `settings` with its own batcher and a fresh memory store; the model and the skills' prefixes
    are loaded once (by an untimed warm-up bot) and shared, so no level times a prefix being built
    or the process's first forward passes (slower: the first level ran 1.5x slower than the same
    level batched)."""
    readers, results, bot = _warm_up(settings, base), [], None
    for batching, size in (("one_at_a_time", 1), ("batched", max_batch)):
        for concurrency in levels:
            batcher = ReadBatcher(max_batch=size, wait_seconds=wait_seconds if size > 1 else 0.0,
                                  gather_seconds=gather_seconds if size > 1 else 0.0)
            bot = Bot.from_settings(settings, base=base, readers=readers, batcher=batcher, store=MemoryStore())
            readers = bot.readers
            per_conversation = max(turns_per_conversation, math.ceil(MIN_TURNS / concurrency))
            texts = turn_mix(list(bot.skills.values()), concurrency * per_conversation, seed=concurrency)
            with bot:
                level = _run_level(bot, batcher, batching, concurrency, texts, per_conversation)
            results.append(level)
            if on_level:
                on_level(level)
    return ServeReport(model=bot.model_name if bot else "", skills=sorted(bot.skills) if bot else [],
                       max_batch=max_batch, wait_ms=wait_seconds * 1000, gather_ms=gather_seconds * 1000,
                       levels=results)


def _warm_up(settings: BotSettings, base: LoadedModel | None) -> ReaderCache:
    """Load the model and every prefix, and answer a few turns of each skill, untimed."""
    with Bot.from_settings(settings, base=base, batcher=ReadBatcher(max_batch=1), store=MemoryStore()) as bot:
        for n, text in enumerate(turn_mix(list(bot.skills.values()), 2 * len(bot.skills), seed=-1)):
            bot.handle(Turn(conversation_id=f"warm-up-{n}", text=text, channel="bench"))
        return bot.readers


def _run_level(bot: Bot, batcher: ReadBatcher, batching: str, concurrency: int,
               texts: list[str], per_conversation: int) -> ServeLevel:
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)

    def conversation(n: int) -> None:
        start.wait()
        for text in texts[n * per_conversation:(n + 1) * per_conversation]:
            began = time.perf_counter()
            bot.handle(Turn(conversation_id=f"{batching}-{concurrency}-{n}", text=text, channel="bench"))
            with lock:
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=conversation, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return ServeLevel(batching=batching, concurrency=concurrency, turns=len(latencies), seconds=seconds,
                      turns_per_second=len(latencies) / seconds,
                      latency_p50_ms=percentile(latencies, 0.5) * 1000,
                      latency_p95_ms=percentile(latencies, 0.95) * 1000,
                      decode_tokens_per_second=batcher.decoded_tokens / seconds,
                      mean_batch=batcher.mean_batch, cpu_seconds=cpu, batch_sizes=dict(sorted(batcher.batch_sizes.items())))


def serve_table(report: ServeReport) -> str:
    """The report as a Markdown table plus the two targets."""
    lines = ["| batching | concurrent | turns | turns/s | p50 ms | p95 ms | decode tok/s | mean batch | CPU ms/turn |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for l in report.levels:
        lines.append(f"| {l.batching} | {l.concurrency} | {l.turns} | {l.turns_per_second:.2f} | "
                     f"{l.latency_p50_ms:.0f} | {l.latency_p95_ms:.0f} | {l.decode_tokens_per_second:.1f} | "
                     f"{l.mean_batch:.1f} | {l.cpu_seconds * 1000 / max(l.turns, 1):.0f} |")
    for concurrency in sorted({l.concurrency for l in report.levels}):
        speedup, ratio = report.speedup(concurrency), report.p95_over_single(concurrency)
        if speedup is not None:
            cpu = report.cpu_saving(concurrency)
            tail = (f"batched p95 {ratio:.2f}x the single-conversation p50." if ratio is not None
                    else "no single-conversation p50 to compare the p95 with (add 1 to --levels).")
            lines.append(f"\nAt {concurrency} concurrent: batched throughput {speedup:.2f}x one-at-a-time"
                         f"{f' ({cpu:.2f}x less CPU a turn)' if cpu else ''}; {tail}")
    return "\n".join(lines) + "\n"


def write_serve_report(folder: Path, report: ServeReport) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    summary = {str(c): {"speedup": report.speedup(c), "p95_over_single_p50": report.p95_over_single(c),
                        "cpu_saving": report.cpu_saving(c)}
               for c in sorted({l.concurrency for l in report.levels})}
    data = report.model_dump() | {"summary": summary}
    paths = [folder / "serve.json", folder / "serve.md"]
    paths[0].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(f"# bot bench serve: {report.model}\n\nSkills: {', '.join(report.skills)}; "
                        f"max batch {report.max_batch}, wait {report.wait_ms:.0f} ms, gather up to "
                        f"{report.gather_ms:.0f} ms.\n\n" + serve_table(report),
                        encoding="utf-8")
    return paths
