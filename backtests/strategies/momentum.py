"""An example user strategy for `kind = "python"` (see backtests/momentum.toml and backtests/README.md).

Cross-sectional momentum: at each decision, hold the `top` assets with the best return over the last
`lookback` bars, in equal parts; skip the last `skip` bars (the short-term reversal). `window` is the market up to
and including the decision bar (a qfin.data.MarketPanel: numpy arrays [bars, assets] of read-only prices).
"""

import numpy as np


def momentum(window, lookback=252, skip=21, top=5):
    close = window.close
    past = close[-1 - skip] / close[-1 - lookback] - 1.0
    weights = np.zeros(window.n_assets)
    weights[np.argsort(past)[-top:]] = 1.0 / top
    return weights
