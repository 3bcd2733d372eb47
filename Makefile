# qfin: `make run` and `make test` each set up .venv on a fresh machine, then do their job.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.qfin-installed
# torch first: 2.13.0 is a CPU build on disk here; an unpinned torch would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: install run test test-all bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/qfin backtest backtests/sp500.toml --out runs/sp500

test: install
	$(BIN)/python -m pytest

test-all: install
	$(BIN)/python -m pytest -m ""

BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[dev,bench]"
	# FinRL 0.3.7 only for its PortfolioOptimizationEnv module; its own dependency pins (and broker SDKs) are not wanted.
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps finrl==0.3.7
	# pfhedge 0.23.0 pins numpy<2 but never imports numpy; without its pins it runs on this torch and numpy.
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps pfhedge==0.23.0
	touch $@

bench: $(BENCH_VENV)/.installed
	# Byte-compile qfin as pip does for a wheel install: the editable install never does, and with
	# PYTHONDONTWRITEBYTECODE set every whole-process timing would recompile qfin's modules from source.
	$(BENCH_VENV)/bin/python -m compileall -q qfin
	$(BENCH_VENV)/bin/python bench/run_all.py --python $(BENCH_VENV)/bin/python

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info .pytest_cache
