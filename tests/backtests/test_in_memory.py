"""run_backtest on a frame handed in from Python: the same numbers as the dataset it came from, in polars Prices,
polars Bars or pandas form; the spec's period and assets still apply; one source only."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.backtests import run_backtest
from qfin.data import load_dataset
from qfin.errors import SpecError

SPEC = {"data": {"start": "2015-01-01", "end": "2016-12-31", "assets": ["AAPL", "MSFT", "KO"]},
        "report": {"plots": False},
        "strategies": [{"kind": "equal_weight"}, {"kind": "inverse_volatility", "lookback": 60}]}


def test_a_frame_gives_the_numbers_of_the_dataset_it_came_from():
    reference = run_backtest({**SPEC, "data": {**SPEC["data"], "dataset": "sp500_stocks"}}, progress=False)
    prices = load_dataset("sp500_stocks")
    for frame in (prices, prices.to_pandas()):
        result = run_backtest(SPEC, progress=False, data=frame)
        assert result.assets == ["AAPL", "MSFT", "KO"]
        for name, run in reference.runs.items():
            np.testing.assert_array_equal(result.runs[name].equity, run.equity)
    bars = load_dataset("sp500_index")
    spx = {"data": {"start": "2010-01-01", "end": "2010-12-31"}, "report": {"plots": False}, "execution": "next_open",
           "strategies": [{"kind": "buy_and_hold"}]}
    from_frame = run_backtest(spx, progress=False, data=bars).runs["buy_and_hold"].equity
    from_name = run_backtest({**spx, "data": {**spx["data"], "dataset": "sp500_index"}}, progress=False)
    np.testing.assert_array_equal(from_frame, from_name.runs["buy_and_hold"].equity)


def test_one_source_only():
    with pytest.raises(SpecError, match=r"give data\.dataset or data\.path in the spec, or a frame"):
        run_backtest(SPEC, progress=False)
    with pytest.raises(SpecError, match=r"\(not both\)"):
        run_backtest({**SPEC, "data": {**SPEC["data"], "dataset": "sp500_stocks"}}, progress=False,
                     data=load_dataset("sp500_stocks"))
