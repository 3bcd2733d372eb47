"""Fixtures shared by the backtest tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def goog() -> pd.DataFrame:
    """GOOG daily bars 2004-08-19..2013-03-01 (2,148 bars), the file backtesting.py 0.6.6 ships (dev extra)."""
    backtesting = pytest.importorskip("backtesting")
    frame = pd.read_csv(Path(backtesting.__file__).parent / "test" / "GOOG.csv", index_col=0, parse_dates=True)
    assert len(frame) == 2148
    return frame
