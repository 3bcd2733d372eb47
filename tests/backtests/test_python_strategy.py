"""User strategies (kind = "python"): a function of the market up to the decision bar, its spec keys as keyword
arguments; checked against built-in strategies on the same spec, its errors one line naming file, line and bar,
and --check-lookahead flags a function that peeks one bar ahead while every shipped strategy passes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qfin.backtests import check_lookahead, load_spec, parse_grid, run_backtest, run_sweep
from qfin.errors import SpecError
from qfin.strategy import StrategyOutputError

ROOT = Path(__file__).resolve().parents[2]

USER = '''
import numpy as np

def equal(window):
    return np.full(window.n_assets, 1.0 / window.n_assets)

def all_long(window):
    return [1] * window.n_assets

def top(window, lookback=60, n=3):
    past = window.close[-1] / window.close[-lookback - 1] - 1.0
    w = np.zeros(window.n_assets)
    w[np.argsort(past)[-n:]] = 1.0 / n
    return w

def peek(window):
    full = window.close
    while full.base is not None:
        full = full.base
    t = window.n_bars
    ahead = full[t] / full[t - 1] if t < len(full) else np.ones(window.n_assets)
    w = np.zeros(window.n_assets)
    w[np.argmax(ahead)] = 1.0
    return w

def writes(window):
    window.close[-1] = 0.0
    return np.full(window.n_assets, 1.0 / window.n_assets)

def nan(window):
    return np.full(window.n_assets, np.nan)

def short(window):
    return [0.5, 0.5]

def broken(window):
    x = {}
    return x["missing"]
'''


def _spec(tmp_path: Path, *strategies: str, start: str = "2015-01-01", end: str = "2015-12-31") -> Path:
    (tmp_path / "user.py").write_text(USER)
    text = f'[data]\ndataset = "sp500_stocks"\nstart = {start}\nend = {end}\n[report]\nplots = false\n'
    for body in strategies:
        text += "[[strategies]]\n" + textwrap.dedent(body).strip() + "\n"
    (tmp_path / "s.toml").write_text(text)
    return tmp_path / "s.toml"


def test_a_user_function_trades_exactly_like_the_built_in_it_restates(tmp_path):
    spec = _spec(tmp_path, 'kind = "python"\nname = "mine"\nentry = "user.py:equal"', 'kind = "equal_weight"',
                 'kind = "python"\nname = "signal"\nentry = "user.py:all_long"\nsignal = true')
    runs = run_backtest(spec, progress=False).runs
    # the same weights up to the rounding of 1/N summed twenty times (the engine renormalises to sum 1)
    np.testing.assert_allclose(runs["mine"].equity, runs["equal_weight"].equity, rtol=1e-12)
    np.testing.assert_allclose(runs["signal"].equity, runs["equal_weight"].equity, rtol=1e-12)  # +1 each: 1/N


def test_spec_keys_are_keyword_arguments_and_sweepable(tmp_path):
    spec = _spec(tmp_path, 'kind = "python"\nname = "top"\nentry = "user.py:top"\nlookback = 60\nn = 3')
    run = run_backtest(spec, progress=False).runs["top"]
    held = (run.weights[:, 1:] > 0).sum(axis=1)
    assert set(np.unique(held[held > 0])) <= {3}
    sweep = run_sweep(load_spec(spec), parse_grid(["n=2,5"]), backend="local", n_workers=1, progress=False)
    assert sorted(row["n"] for row in sweep.rows) == [2, 5]
    assert len({round(row["total_return"], 12) for row in sweep.rows}) == 2


@pytest.mark.parametrize("body, error, match", [
    ('entry = "nope.py:f"', SpecError, r"entry .*nope\.py:f.*no such file"),
    ('entry = "user.py:missing"', SpecError, "has no function 'missing'; it defines all_long, broken, equal"),
    ('entry = "user.py"', SpecError, "expected 'file.py:function' or 'module:function'"),
    ('entry = "user.py:top"\ndepth = 3', SpecError, r"cannot be called as f\(window, depth, lookback\).*keyword "
                                                     r"arguments: lookback, n"),
    ('entry = "user.py:nan"', StrategyOutputError, r"at decision 0 \(bar \d+, 2015-01-02\): weights are not all "
                                                    "finite"),
    ('entry = "user.py:short"', StrategyOutputError, "weights have length 2; expected 21"),
    ('entry = "user.py:broken"', StrategyOutputError, r"decision 0 .*user\.py:\d+: KeyError: 'missing'"),
    ('entry = "user.py:writes"', StrategyOutputError, r"user\.py:\d+: ValueError: assignment destination is "
                                                       "read-only"),
    ('entry = "user.py:all_long"\nsignal = "yes"', SpecError, "signal: Input should be a valid boolean"),
])
def test_bad_user_strategies_are_one_line(tmp_path, body, error, match):
    spec = _spec(tmp_path, f'kind = "python"\nname = "u"\n{body}')
    with pytest.raises(error, match=match) as caught:
        run_backtest(spec, progress=False)
    assert "\n" not in str(caught.value)


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    spec = _spec(tmp_path, 'kind = "python"\nentry = "bad.py:f"')
    (tmp_path / "bad.py").write_text("def f(window):\n    return [\n")
    with pytest.raises(SpecError, match=r"bad\.py:2: syntax error"):
        run_backtest(spec, progress=False)


def test_check_lookahead_flags_a_peek_and_passes_honest_code(tmp_path):
    spec = _spec(tmp_path, 'kind = "python"\nname = "peek"\nentry = "user.py:peek"',
                 'kind = "python"\nname = "top"\nentry = "user.py:top"\nlookback = 60')
    report = check_lookahead(spec, progress=False)
    assert report.checked == {"peek": 13, "top": 13}  # the first bar, then 12 month ends
    assert {c["strategy"] for c in report.changed} == {"peek"} and len(report.changed) >= 6
    env = dict(os.environ, COLUMNS="300")
    done = subprocess.run([sys.executable, "-m", "qfin", "backtest", str(spec), "--out", str(tmp_path / "o"),
                           "--no-progress", "--check-lookahead"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 1 and done.stderr.startswith("error: look-ahead:") and "'peek'" in done.stderr


def test_every_shipped_strategy_passes_the_lookahead_check(tmp_path):
    """The main job's baselines (on one year), the SMA signal and the example user strategy."""
    for name in ("sp500.toml", "sma_spx.toml", "momentum.toml"):
        raw = (ROOT / "backtests" / name).read_text()
        spec = load_spec(ROOT / "backtests" / name)
        data = spec.data.model_copy(update={"start": spec.data.end.replace(year=spec.data.end.year - 1)})
        report = check_lookahead(spec.model_copy(update={"data": data}), progress=False)
        assert report.ok, (name, report.changed[:3])
        assert len(report.checked) == raw.count("[[strategies]]")
