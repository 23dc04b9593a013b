"""Run each system in a fresh process, so its peak memory is its own.

Peak memory is the child's peak resident set size over its whole life: Python, torch and
transformers, the model(s), training and evaluation. On Linux it is `VmHWM` of /proc/self/status,
the high-water mark of the process image itself; `getrusage`'s ru_maxrss is not used there because
it carries the parent's peak across fork + exec (a child of a 1 GB parent reports 1 GB). The
same process's peak right after importing torch and transformers is returned too (the floor
every system pays), so readers can tell the runtime from the system.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import BotError

__all__ = ["peak_rss_bytes", "run_isolated"]

T = TypeVar("T")


STATUS = Path("/proc/self/status")


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far, in bytes."""
    if STATUS.is_file():
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, others KiB


def run_isolated(function: Callable[..., T], *args: Any) -> tuple[T, int, int]:
    """`function(*args)` in a fresh (spawned) process: (its result, peak RSS, RSS after imports).

    `function` must be importable by name (a module-level function) and its result picklable.
    """
    context = multiprocessing.get_context("spawn")  # fork would inherit the parent's memory
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measured, function, *args).result()


def _measured(function: Callable[..., T], *args: Any) -> tuple[T, int, int]:
    import torch  # noqa: F401  (the runtime every system needs: counted in the baseline)
    import transformers

    transformers.utils.logging.disable_progress_bar()  # stderr is for the systems' own progress bars
    baseline = peak_rss_bytes()
    try:
        result = function(*args)
    except BotError as err:  # its subclasses take keyword arguments and would not unpickle
        raise BotError(str(err)) from None
    return result, peak_rss_bytes(), baseline
