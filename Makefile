# qfin: `make run` and `make test` each set up .venv on a fresh machine, then do their job.
# Every install reads the committed lock files; `make lock` refreshes them from pyproject.toml's ranges.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.qfin-installed
LOCK   := requirements.lock
BENCH_LOCK := requirements-bench.lock
# torch first: 2.13.0 is a CPU build on disk here; an unpinned torch would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0
# pip itself pinned too, so a fresh venv installs the locks with the same resolver every time.
PIP    := pip==26.3
# pip-compile (pip-tools) resolves the locks; its own small venv, so a stale lock never blocks re-locking.
LOCK_VENV := .venv-lock
PIP_TOOLS := pip-tools==7.6.2
COMPILE := $(LOCK_VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
	--no-emit-find-links --extra dev --extra ray --extra tensorboard -c tools/lock-constraints.txt

.PHONY: install lock-check lock lock-upgrade run test test-all lint bench clean

# Fails, naming what is missing and saying to run `make lock`, when pyproject.toml changed since the lock.
lock-check:
	@$(PYTHON) tools/lockfile.py check

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) tools/lockfile.py check
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: lock-check $(STAMP)

run: install
	$(BIN)/qfin backtest backtests/sp500.toml --out runs/sp500

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

test-all: lint
	$(BIN)/python -m pytest -m ""

$(LOCK_VENV)/bin/pip-compile:
	test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet $(PIP_TOOLS)

# Keeps every pin that pyproject.toml still allows and resolves what changed; lock-upgrade takes the newest of all.
# The bench lock is its own resolution: scope-rl's d3rlpy holds gymnasium at 1.0.0 and ortools holds protobuf back.
lock: $(LOCK_VENV)/bin/pip-compile
	$(COMPILE) $(LOCK_FLAGS) -o $(LOCK) pyproject.toml
	$(COMPILE) $(LOCK_FLAGS) --extra bench -o $(BENCH_LOCK) pyproject.toml
	$(PYTHON) tools/lockfile.py stamp

lock-upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml $(BENCH_LOCK)
	@$(PYTHON) tools/lockfile.py check
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet $(PIP)
	$(BENCH_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r $(BENCH_LOCK)
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
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
	rm -rf $(VENV) $(BENCH_VENV) $(LOCK_VENV) build dist *.egg-info .pytest_cache
