"""The real embedded model, loaded once for the integration tests (converted on first use)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def real_cache_dir(bot_cache_dir):
    """The user's model cache (not the unit tests' empty one): the conversion happens once per machine."""
    path = Path(os.environ.get("BOT_REAL_CACHE_DIR", Path.home() / ".cache" / "bot"))
    os.environ["BOT_CACHE_DIR"] = str(path)
    yield path
    os.environ["BOT_CACHE_DIR"] = str(bot_cache_dir)


@pytest.fixture(autouse=True)
def dtype_as_a_user_gets_it(monkeypatch):
    """The unit tests pin float32 (tests/conftest.py); the real model runs as a user's would: `auto`."""
    monkeypatch.setenv("BOT_DTYPE", "auto")


@pytest.fixture(scope="session")
def real_base(real_cache_dir):
    import torch

    from bot.model.base import load_base_model

    torch.set_num_threads(os.cpu_count() or 1)
    return load_base_model("default")


@pytest.fixture(scope="session")
def real_runtime(real_base):
    from bot.app import runtime_for

    return runtime_for(real_base)  # the one Runtime of this model, the same every Bot on it uses
