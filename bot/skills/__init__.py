"""Skills' example data: the skill's own JSONL files and importers for public data sets."""

from bot.skills.examples import (
    find_value_span,
    load_examples,
    load_examples_with_lines,
    save_examples,
    text_key,
    validate_examples,
)
from bot.skills.importers import (
    ImportStats,
    dedupe_examples,
    read_dataset,
    read_dataset_with_stats,
    schema_from_examples,
)

__all__ = [
    "ImportStats",
    "dedupe_examples",
    "find_value_span",
    "load_examples",
    "load_examples_with_lines",
    "read_dataset",
    "read_dataset_with_stats",
    "save_examples",
    "schema_from_examples",
    "text_key",
    "validate_examples",
]
