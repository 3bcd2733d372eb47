"""The bad-input corpus of the command line: each case is files a user wrote and a command they ran; each must end
with exit code 1, one line on stderr naming what is wrong (the fragment below) and no traceback, and leave no
output behind. Cases come from issue reports and from trying the tools with hostile input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BACKTEST = """[data]
dataset = "sp500_stocks"
start = 2015-01-01
end = 2015-12-31
{data}
[report]
plots = false
[[strategies]]
kind = "equal_weight"
{strategy}
"""
SMA = """[data]
dataset = "sp500_index"
start = 2015-01-01
end = 2015-12-31
[report]
plots = false
[[strategies]]
kind = "sma_crossover"
slow = 30
{extra}
"""
DP = """problem = "{problem}"
[params]
{params}
[objective]
kind = "probability_of_target"
target = 1.0
[solver]
{solver}
"""
LIQUIDATION = "inventory = 4\nhorizon = 3\nstart_price = 10.0\ntick = 0.5\nimpact = 0.25"
HEDGE = "maturity_days = 5\nn_train = 256\nn_test = 128\n{extra}\n[hedger]\niterations = 2\nbatch_size = 64\n"

CASES = [
    # id, {file: text}, command, fragment of the one-line error
    ("backtest-missing-spec", {}, ["backtest", "nope.toml", "--out", "out"], "nope.toml: no such spec file"),
    ("backtest-unknown-key", {"s.toml": BACKTEST.format(data="", strategy="lookbak = 3")},
     ["backtest", "s.toml", "--out", "out"], "lookbak"),
    ("backtest-asset-twice", {"s.toml": BACKTEST.format(data='assets = ["AAPL", "AAPL"]', strategy="")},
     ["backtest", "s.toml", "--out", "out"], "AAPL named more than once"),
    ("backtest-unnamed-price-column", {"p.csv": "timestamp,,B\n2020-01-02,1,2\n2020-01-03,1,2\n",
                                       "s.toml": '[data]\npath = "p.csv"\n[[strategies]]\nkind = "equal_weight"\n'},
     ["backtest", "s.toml", "--out", "out"], "unnamed_column"),
    ("backtest-unknown-kind", {"s.toml": BACKTEST.format(data="", strategy='[[strategies]]\nkind = "magic"')},
     ["backtest", "s.toml", "--out", "out"], "unknown kind 'magic'"),
    ("data-show-unknown", {}, ["data", "show", "no_such_dataset"], "no_such_dataset"),
    ("data-import-missing-file", {}, ["data", "import", "missing.csv", "--name", "x"], "missing.csv"),
    ("hedge-seeds-empty", {"h.toml": HEDGE.format(extra="seeds = []")}, ["hedge", "train", "h.toml", "-o", "out"],
     "seeds"),
    ("hedge-seeds-scalar", {"h.toml": HEDGE.format(extra="seeds = 3")}, ["hedge", "train", "h.toml", "-o", "out"],
     "seeds: Input should be a valid tuple"),
    ("hedge-seeds-text", {"h.toml": HEDGE.format(extra='seeds = ["a"]')}, ["hedge", "train", "h.toml", "-o", "out"],
     "seeds.0: Input should be a valid integer"),
    ("hedge-unknown-hedger-key", {"h.toml": HEDGE.format(extra="") + "learning_rate = 0.1\n"},
     ["hedge", "train", "h.toml", "-o", "out"], "unknown key 'hedger.learning_rate'; accepted: loss"),
    ("kline-train-float-int", {"k.toml": "lookback = 16.5\n"}, ["kline", "train", "k.toml", "--out", "out"],
     "lookback: Input should be a valid integer"),
    ("kline-train-unknown-preset", {}, ["kline", "train", "tpu", "--out", "out"], "pass 'cpu', 'gpu' or a .toml"),
    ("kline-forecast-top-p", {}, ["kline", "forecast", "--dataset", "msft", "--top-p", "0", "--out", "out/f.csv"],
     "top_p (--top-p) 0.0: must be in (0, 1]"),
    ("kline-forecast-suffix", {}, ["kline", "forecast", "--dataset", "msft", "--out", "out/f.txt"],
     "the file must end in .csv or .parquet"),
    ("scorecard-missing-file", {}, ["scorecard", "build", "applicants.csv", "-t", "target", "-o", "out"],
     "applicants.csv not found"),
    ("dp-missing-problem", {}, ["dp", "solve", "nope.toml", "--out", "out"], "nope.toml"),
    ("dp-stakes-text", {"d.toml": DP.format(problem="betting", params="max_wealth = 8\ninitial_wealth = 3\n"
                                                    "win_prob = 0.4\nhorizon = 4\nstakes = [\"a\"]",
                                            solver="")},
     ["dp", "solve", "d.toml", "--out", "out"], "stakes"),
    ("dp-state-space-too-large", {"d.toml": DP.format(problem="liquidation", solver="", params=LIQUIDATION.replace(
        "inventory = 4", "inventory = 400").replace("horizon = 3", "horizon = 50").replace("impact = 0.25",
                                                                                          "impact = 0.01"))},
     ["dp", "solve", "d.toml", "--out", "out"], "GiB for"),
    ("dp-quantiles-too-many", {"d.toml": DP.format(problem="liquidation", params=LIQUIDATION,
                                                   solver='method = "quantile"\nn_quantiles = 100000000')},
     ["dp", "solve", "d.toml", "--out", "out"], "GiB for"),
    ("sma-fast-fraction", {"s.toml": SMA.format(extra="fast = 10.9")}, ["backtest", "s.toml", "--out", "out"],
     "fast: must be a whole number of bars >= 1"),
    ("sma-fast-text", {"s.toml": SMA.format(extra='fast = "abc"')}, ["backtest", "s.toml", "--out", "out"],
     "fast: must be a whole number of bars >= 1"),
    ("sma-switch-text", {"s.toml": SMA.format(extra='long_short = "false"')}, ["backtest", "s.toml", "--out", "out"],
     "long_short: must be true or false"),
    ("sma-stop-negative", {"s.toml": SMA.format(extra="sl_stop = -0.1")}, ["backtest", "s.toml", "--out", "out"],
     "sl_stop = -0.1 is out of range: a fraction of the entry price, 0 < value < 1"),
    ("sma-stop-two", {"s.toml": SMA.format(extra="tp_stop = 2")}, ["backtest", "s.toml", "--out", "out"],
     "tp_stop = 2 is out of range"),
    ("sma-stop-text", {"s.toml": SMA.format(extra='tsl_stop = "5%"')}, ["backtest", "s.toml", "--out", "out"],
     "tsl_stop must be a number"),
    ("backtest-stop-on-allocation", {"s.toml": BACKTEST.format(data="", strategy="sl_stop = 0.05")},
     ["backtest", "s.toml", "--out", "out"], "sl_stop applies to signal strategies"),
    ("sweep-grid-fraction", {"s.toml": SMA.format(extra="")},
     ["sweep", "s.toml", "--grid", "fast=5.5,5.9", "--out", "out"], "fast: must be a whole number of bars"),
    ("backtest-unknown-benchmark", {"s.toml": 'benchmark = "SPY"\n' + SMA.format(extra="")},
     ["backtest", "s.toml", "--out", "out"], "benchmark 'SPY' is neither a strategy of the spec"),
    ("walk-forward-turnover", {"s.toml": SMA.format(extra="")},
     ["sweep", "s.toml", "--grid", "fast=5,10", "--walk-forward", "--sort", "turnover", "--out", "out"],
     "--sort 'turnover' with --walk-forward"),
    ("walk-forward-too-long", {"s.toml": SMA.format(extra="")},
     ["sweep", "s.toml", "--grid", "fast=5,10", "--walk-forward", "--train", "100000", "--out", "out"],
     "bars are too few for one fold"),
    ("python-entry-missing", {"s.toml": BACKTEST.format(data="", strategy='[[strategies]]\nkind = "python"\n'
                                                                         'entry = "mine.py:f"')},
     ["backtest", "s.toml", "--out", "out"], "no such file"),
    ("signal-unknown-indicator", {"s.toml": BACKTEST.format(data="", strategy='[[strategies]]\nkind = "signal"\n'
                                                                             'entry = "RSX(close, 14) < 30"')},
     ["backtest", "s.toml", "--out", "out"], "unknown indicator 'RSX'"),
    ("kline-poisoned-checkpoint", {"ck/config.json": "{}", "ck/tokenizer.pt": "not a torch file",
                                   "ck/model.pt": "not a torch file"},
     ["kline", "forecast", "-c", "ck", "--dataset", "msft", "--out", "out/f.csv"], "ck"),
]


@pytest.mark.parametrize("files, command, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, files, command, fragment):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = dict(os.environ, QFIN_HOME=str(tmp_path / "home"), COLUMNS="400", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "qfin", *command], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "home" / "logs").exists()
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
                     and not str(p.relative_to(tmp_path)).startswith("home"))
    assert written == sorted(files)


def test_a_corrupt_imported_dataset_does_not_hide_the_others(tmp_path):
    (tmp_path / "home" / "data").mkdir(parents=True)
    (tmp_path / "home" / "data" / "broken.parquet").write_text("not parquet")
    env = dict(os.environ, QFIN_HOME=str(tmp_path / "home"), COLUMNS="400")
    done = subprocess.run([sys.executable, "-m", "qfin", "data", "list"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "sp500_index" in done.stdout and "german_credit" in done.stdout
    assert "unreadable: broken:" in done.stdout and "malformed_parquet" in done.stdout
    shown = subprocess.run([sys.executable, "-m", "qfin", "data", "show", "broken"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert shown.returncode == 1 and "malformed_parquet" in shown.stderr and "Traceback" not in shown.stderr


def test_a_dataset_name_of_300_characters_is_one_line(tmp_path):
    from qfin.data import load_dataset

    load_dataset("sp500_index").head(50).write_csv(tmp_path / "bars.csv")
    env = dict(os.environ, QFIN_HOME=str(tmp_path / "home"), COLUMNS="400")
    done = subprocess.run([sys.executable, "-m", "qfin", "data", "import", str(tmp_path / "bars.csv"), "--name",
                           "a" * 300], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "invalid dataset name" in done.stderr
    assert "at most 100" in done.stderr and not (tmp_path / "home" / "logs").exists()
