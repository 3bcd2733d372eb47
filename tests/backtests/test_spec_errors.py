"""Bad specs: a one-line reason naming the key, a non-zero exit, and no output folder left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from qfin.backtests import load_spec, run_backtest
from qfin.errors import SpecError

GOOD = """
name = "tiny"
rebalance = "monthly"
[data]
dataset = "sp500_stocks"
start = 2015-01-01
end = 2016-12-31
assets = ["AAPL", "MSFT", "JNJ"]
[costs]
fee = 0.001
[[strategies]]
kind = "equal_weight"
[[strategies]]
kind = "inverse_volatility"
lookback = 60
"""

BAD = {
    "unknown_key": (GOOD.replace('name = "tiny"', 'name = "tiny"\ncolour = "red"'), "unknown key 'colour'; accepted"),
    "unknown_nested_key": (GOOD.replace("fee = 0.001", "fee = 0.001\nfees = 0.002"), "unknown key 'costs.fees'"),
    "unknown_strategy": (GOOD.replace('kind = "equal_weight"', 'kind = "astrology"'), "unknown kind 'astrology'"),
    "end_before_start": (GOOD.replace("end = 2016-12-31", "end = 2014-12-31"), "is not after data.start"),
    "negative_cost": (GOOD.replace("fee = 0.001", "fee = -0.001"), "costs.fee"),
    "lookback_too_long": (GOOD.replace("lookback = 60", "lookback = 100000"), "lookback 100000 bars is longer"),
    "bad_execution": (GOOD.replace('rebalance = "monthly"', 'execution = "noon"'), "execution"),
    "unknown_asset": (GOOD.replace('"JNJ"', '"ZZZZ"'), "ZZZZ not in sp500_stocks"),
    "next_open_without_opens": (GOOD.replace('rebalance = "monthly"', 'execution = "next_open"'),
                                "needs open prices"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spec_is_a_spec_error_naming_the_problem(tmp_path, case):
    text, expected = BAD[case]
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        run_backtest(load_spec(path), out_dir=tmp_path / "out", progress=False)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert not (tmp_path / "out").exists()


def test_malformed_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[data\ndataset = 'x'")
    with pytest.raises(SpecError, match="broken.toml: not valid TOML"):
        load_spec(path)


@pytest.mark.parametrize("case", ["unknown_key", "lookback_too_long"])
def test_cli_exits_non_zero_with_one_line_and_no_output(tmp_path, case):
    text, expected = BAD[case]
    path = tmp_path / "spec.toml"
    path.write_text(text)
    out = tmp_path / "out"
    env = dict(os.environ, COLUMNS="300")
    result = subprocess.run([sys.executable, "-m", "qfin", "backtest", str(path), "--out", str(out),
                             "--no-progress"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["spec.toml"]


SMA = """
name = "sma"
execution = "next_open"
initial_cash = 10000
[data]
dataset = "sp500_index"
start = 2003-01-01
end = 2004-12-31
[[strategies]]
kind = "sma_crossover"
fast = 10
slow = 30
"""

# Before issue 17 each of these ran, coerced: "false" and "no" are non-empty strings, so true; 10.9 truncated to 10.
SMA_BAD = {
    "long_short_string": (SMA.replace("slow = 30", 'slow = 30\nlong_short = "false"'),
                          "long_short: must be true or false (or 0 / 1), got 'false'"),
    "integer_shares_string": (SMA.replace("slow = 30", 'slow = 30\ninteger_shares = "no"'),
                              "integer_shares: must be true or false (or 0 / 1), got 'no'"),
    "switch_two": (SMA.replace("slow = 30", "slow = 30\nlong_short = 2"), "long_short: must be true or false"),
    "fast_fraction": (SMA.replace("fast = 10", "fast = 10.9"),
                      "fast: must be a whole number of bars >= 1 (an integer such as 10), got 10.9"),
    "fast_text": (SMA.replace("fast = 10", 'fast = "abc"'), "fast: must be a whole number of bars >= 1"),
    "slow_float": (SMA.replace("slow = 30", "slow = 30.0"), "slow: must be a whole number of bars >= 1"),
}


@pytest.mark.parametrize("case", sorted(SMA_BAD))
def test_sma_parameters_are_not_coerced(tmp_path, case):
    text, expected = SMA_BAD[case]
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        run_backtest(load_spec(path), progress=False)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert "strategy 'sma_crossover' (sma_crossover)" in str(info.value)


def test_sma_switches_take_toml_booleans_and_zero_or_one(tmp_path):
    runs = {}
    for value in ("true", "1", "false", "0"):
        path = tmp_path / f"{value}.toml"
        path.write_text(SMA.replace("slow = 30", f"slow = 30\nlong_short = {value}"))
        runs[value] = run_backtest(load_spec(path), progress=False).runs["sma_crossover"].equity
    np.testing.assert_array_equal(runs["true"], runs["1"])
    np.testing.assert_array_equal(runs["false"], runs["0"])
    assert not np.array_equal(runs["true"], runs["false"])


def test_cli_bad_sma_window_is_one_line_not_a_traceback(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SMA_BAD["fast_text"][0])
    result = subprocess.run([sys.executable, "-m", "qfin", "backtest", str(path), "--out", str(tmp_path / "out"),
                             "--no-progress"], capture_output=True, text=True, env=dict(os.environ, COLUMNS="300"),
                            timeout=300)
    assert result.returncode == 1
    assert "fast: must be a whole number of bars >= 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
