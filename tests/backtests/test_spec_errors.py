"""Bad specs: a one-line reason naming the key, a non-zero exit, and no output folder left behind."""

from __future__ import annotations

import os
import subprocess
import sys

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
