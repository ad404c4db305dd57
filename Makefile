# swarm -- `make` sets up .venv; `make test`; `make test-unit`; `make demo`; `make bench`;
# `make bench-scale`; `make lint`; `make docs`; `make clean`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
DOCS_STAMP := $(VENV)/.docs-installed
# Shell completion, generated from the parser (see docs/getting-started.md).
BASH_COMPLETION := $(VENV)/share/bash-completion/completions/swarm
ZSH_COMPLETION := $(VENV)/share/zsh/site-functions/_swarm

.PHONY: all venv bytecode completions test test-unit demo bench bench-scale lint docs clean

all: venv bytecode completions

venv: $(STAMP)

# Byte-compile the package once, so the eight peers of a swarm started at once
# do not each compile it again (PYTHONDONTWRITEBYTECODE keeps them from caching).
bytecode: $(STAMP)
	$(PY) -m compileall -q swarm

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The `swarm` command, pointing at this checkout (edits need no reinstall).
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e .
	touch $(STAMP)

completions: $(BASH_COMPLETION) $(ZSH_COMPLETION)

$(BASH_COMPLETION) $(ZSH_COMPLETION): $(STAMP) $(wildcard swarm/cli/*.py) swarm/config.py
	mkdir -p $(dir $@)
	$(PY) -m swarm completion $(if $(findstring zsh,$@),zsh,bash) > $@.tmp
	mv $@.tmp $@

test: $(STAMP) bytecode
	$(PY) -m pytest

# Everything but the end-to-end tests: the pure rooms, the store, the
# simulated swarms.  Seconds, not minutes.
test-unit: $(STAMP)
	$(PY) -m pytest --ignore=tests/e2e

lint: $(STAMP)
	$(PY) -m ruff check swarm tests bench
	$(PY) -m mypy swarm tests bench

demo: $(STAMP) bytecode
	$(PY) -m swarm.tools.demo

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) bytecode
	$(PY) -m bench

# The scaling table alone: 8 to 128 peers x 1 MiB, seconds per GiB moved.
bench-scale: $(BENCH_STAMP) bytecode
	$(PY) -m bench --scale

$(DOCS_STAMP): $(STAMP) requirements-docs.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-docs.txt
	touch $(DOCS_STAMP)

# The documentation site, into site/ (open site/index.html).  The reference
# pages generated from the code are checked first; --strict fails on a broken
# link, a missing anchor or a page left out of the navigation.
docs: $(DOCS_STAMP)
	$(PY) -m swarm.cli.reference
	$(PY) -m mkdocs build --strict --quiet --site-dir site

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
