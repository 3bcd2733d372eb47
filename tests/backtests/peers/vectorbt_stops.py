"""Reference figures for tests/backtests/test_orders.py from vectorbt 1.2.0's Portfolio.from_signals (not a test).

    .venv/bin/python -c "from qfin.data import load_dataset; load_dataset('sp500_index').write_csv('/tmp/spx.csv')"
    cd tests/backtests && /tmp/peervenv/bin/python peers/vectorbt_stops.py /tmp/spx.csv > data/vectorbt_stops.json

SMA(10/30) crosses (vectorbt's MA.run + crossed_above/below), all-in (size=inf), fee 0.1%, 1,000,000 cash, on the
shipped sp500_index bars 1999-2018. execution "close": signals as they are, price=close (default), stops from that
close (stop_entry_price="close", default); "next_open": signals fshift(1), price=open, stop_entry_price="fillprice".
Trailing stops are sl_stop with sl_trail=True. Long/short cases (qfin's long_short = true) pass the crosses
as short_exits / short_entries too (a cross reverses the position). Records each case's trade count, every
trade's exit price and the final value.
"""

import json
import sys

import numpy as np
import pandas as pd
import vectorbt as vbt

CASES = [
    {"sl_stop": 0.03}, {"tp_stop": 0.05}, {"tsl_stop": 0.04}, {"sl_stop": 0.03, "tp_stop": 0.06},
    {"tsl_stop": 0.05, "tp_stop": 0.08},
]
LONG_SHORT = [{"sl_stop": 0.03}, {"tsl_stop": 0.04, "tp_stop": 0.06}]


def main(path: str) -> None:
    bars = pd.read_csv(path, parse_dates=["timestamp"]).set_index("timestamp")
    close, open_, high, low = bars.close, bars.open, bars.high, bars.low
    fast = vbt.MA.run(close, 10).ma
    slow = vbt.MA.run(close, 30).ma
    entries = fast.vbt.crossed_above(slow)
    exits = fast.vbt.crossed_below(slow)
    out = {"peer": f"vectorbt {vbt.__version__}", "numpy": np.__version__, "pandas": pd.__version__, "cases": []}
    for case, long_short in [(c, False) for c in CASES] + [(c, True) for c in LONG_SHORT]:
        for execution in ("close", "next_open"):
            stops = {"sl_stop": case.get("sl_stop", case.get("tsl_stop", np.nan)), "sl_trail": "tsl_stop" in case,
                     "tp_stop": case.get("tp_stop", np.nan)}
            kwargs = dict(open=open_, high=high, low=low, fees=0.001, init_cash=1_000_000.0, **stops)
            up, down = entries, exits
            if execution == "next_open":
                up, down = up.vbt.fshift(1, fill_value=False), down.vbt.fshift(1, fill_value=False)
                kwargs.update(price=open_, stop_entry_price="fillprice")
            if long_short:
                kwargs.update(short_entries=down, short_exits=up)
            pf = vbt.Portfolio.from_signals(close, up, down, **kwargs)
            trades = pf.trades.records_readable
            out["cases"].append({"orders": case, "execution": execution, "long_short": long_short,
                                 "n_trades": len(trades),
                                 "n_orders": int(pf.orders.count()), "final_value": float(pf.final_value()),
                                 "exit_prices": [float(x) for x in trades["Avg Exit Price"]],
                                 "open_at_end": int((trades["Status"] == "Open").sum())})
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
