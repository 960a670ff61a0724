# Quick start targets: `make run` (the daemon on built-in defaults) and `make test`.
# Both create .venv with the project installed on first use; only python3 and make needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench fuzz reliability clean-venv

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "safeshare needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); $(PYTHON) -m venv --without-pip $(VENV) && $(BIN)/python .ci/bootstrap_pip.py; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,vision]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/safeshare run

test: $(STAMP)
	$(BIN)/python -m pytest

# Hardening runs that take minutes, not part of `make test`: 100,000 fuzzed inputs, and
# 25 kill -9 trials during a 200-file burst. Figures go to docs/reliability.md.
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check atheris
	$(BIN)/python tests/fuzz_clean.py -atheris_runs=100000 -max_len=65536 -timeout=30 -rss_limit_mb=4096

reliability: $(STAMP)
	SAFESHARE_CRASH_TRIALS=25 $(BIN)/python -m pytest -q tests/test_crash.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/ruff format --check daemon tests bench
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)
