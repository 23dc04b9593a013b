"""Measuring a skill: score predictions against labelled examples and write readable reports.

`bot.tuning.metrics` turns (gold, predicted) pairs into `Scores`; `bot.tuning.report` writes
them as JSON, Markdown and confusion-matrix PNGs, so every prompting mode and tuned table is
judged by the same numbers.
"""
