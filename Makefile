# Quick start targets: `make run` (the daemon on built-in defaults) and `make test`.
# Both create .venv on first use; only python3 and make are needed. `make run` installs what
# running needs (safeshare and its vision extra); `make test` adds the test and lint tools.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
VENV_STAMP := $(VENV)/.venv-stamp
RUN_STAMP := $(VENV)/.run-stamp
TEST_STAMP := $(VENV)/.test-stamp

.PHONY: run test lint bench fuzz reliability clean-venv

$(VENV_STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "safeshare needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); $(PYTHON) -m venv --without-pip $(VENV) && $(BIN)/python .ci/bootstrap_pip.py; }
	@touch $(VENV_STAMP)

$(RUN_STAMP): pyproject.toml $(VENV_STAMP)
	$(PIP) -e '.[vision]'
	@touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml $(RUN_STAMP)
	$(PIP) -e '.[test,vision]'
	@touch $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/safeshare run

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

# Hardening runs that take minutes, not part of `make test`: 100,000 fuzzed inputs, and
# 25 kill -9 trials during a 200-file burst. Figures go to docs/reliability.md.
fuzz: $(TEST_STAMP)
	$(PIP) atheris
	$(BIN)/python tests/fuzz_clean.py -atheris_runs=100000 -max_len=65536 -timeout=30 -rss_limit_mb=4096

reliability: $(TEST_STAMP)
	SAFESHARE_CRASH_TRIALS=25 $(BIN)/python -m pytest -q tests/test_crash.py

bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check daemon tests bench tools
	$(BIN)/ruff format --check daemon tests bench tools
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)
