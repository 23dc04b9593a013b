"""Fixtures of the dialogue tests."""

from __future__ import annotations

import pytest
from dialogue_fixtures import RULES

from bot.dialogue import ScriptedUnderstanding


@pytest.fixture
def understanding() -> ScriptedUnderstanding:
    return ScriptedUnderstanding(RULES)
