"""Adapters: each converts one channel's messages into `Turn`s and `Reply`s back, and nothing more.

Only the adapter a command uses is imported (a web or Slack adapter brings its framework with it).
"""

from bot.adapters.shell import run_shell

__all__ = ["run_shell"]
