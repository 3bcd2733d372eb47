"""Reference trade statistics for tests/backtests/test_trade_stats.py from backtesting.py 0.6.6 (not a test).

    .venv/bin/python tests/backtests/peers/backtesting_trade_stats.py

SMA(10/30) crossover, long/flat, all-in with whole shares, on the first 2,081 bars of the GOOG file backtesting.py
ships (2004-08-19 .. the last bar before the next entry, so every trade has closed and neither engine has to
value an open position): Backtest(cash=10_000, commission=0, trade_on_close=True) (qfin: execution "close",
fee 0, fractional = false).
"""

import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    def init(self):
        self.fast = self.I(sma, self.data.Close, 10)
        self.slow = self.I(sma, self.data.Close, 30)

    def next(self):
        if crossover(self.fast, self.slow):
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()


if __name__ == "__main__":
    data = GOOG.iloc[:2081]
    print("last bar", data.index[-1])
    stats = Backtest(data, SmaCross, cash=10_000, commission=0.0, trade_on_close=True).run()
    for key in ("Exposure Time [%]", "Equity Final [$]", "# Trades", "Win Rate [%]", "Best Trade [%]",
                "Worst Trade [%]", "Avg. Trade [%]", "Max. Trade Duration", "Avg. Trade Duration", "Profit Factor",
                "Expectancy [%]", "SQN", "Kelly Criterion"):
        print(f"{key!r}: {stats[key]!r},")
