"""`bot bench`: measurements of the product.

`bot bench compare` measures it against what it replaces, on the same data in one run: `compare`
trains and evaluates the BERT ensemble (intent classifier + slot tagger fine-tuned from
all-MiniLM-L6-v2) and the LLM skill (zero-shot, few-shot, tuned) on the same splits, each system
in its own process, and `write_bench_report` writes the table, JSON, chart and per-system details.
Importing the compare side loads no torch; its systems import it inside their own processes.
"""

from bot.bench.compare import compare
from bot.bench.data import BenchData, load_bench_data
from bot.bench.report import comparison_table, load_bench_report, write_bench_report
from bot.bench.results import BenchReport, SystemResult
from bot.bench.settings import QUICK, BenchSettings, BertSettings, System

__all__ = [
    "QUICK",
    "BenchData",
    "BenchReport",
    "BenchSettings",
    "BertSettings",
    "System",
    "SystemResult",
    "compare",
    "comparison_table",
    "load_bench_data",
    "load_bench_report",
    "write_bench_report",
]
