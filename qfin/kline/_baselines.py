"""Volatility baselines the K-line model is measured against, each fitted on data up to its forecast origin only.

Every forecaster returns, for each origin ``o`` (index of the last observed bar), a forecast of the realized
volatility ``sqrt(sum_{h=1..H} r_{o+h}^2)`` of the next ``H`` close-to-close log returns, reading bars ``<= o``:

- :func:`persistence_vol`: the realized volatility of the last ``H`` returns.
- :func:`trailing_vol`: ``sqrt(H x mean r^2)`` over the last ``trailing`` returns.
- :func:`garch_vol`: GARCH(1,1) (``arch``; Bollerslev 1986), fitted on the last ``window`` returns, the
  ``H``-step variance forecasts summed.
- :func:`har_rv_vol`: HAR-RV (Corsi, "A simple approximate long-memory model of realized volatility", J. Fin.
  Econometrics 7, 2009): OLS of the next ``H`` bars' realized variance on the daily, weekly (5) and monthly (22)
  means of squared returns, fitted on the pairs whose target is observed by the origin.
- :func:`range_vol`: Garman-Klass (J. Business 53, 1980, their sigma-hat-5) range variance plus the squared
  overnight gap, averaged over the last ``trailing`` bars.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["garch_vol", "har_rv_vol", "persistence_vol", "range_vol", "trailing_vol", "volatility_baselines"]


def _log_returns(close: np.ndarray) -> np.ndarray:
    """``r[j] = log(close[j + 1] / close[j])``: the return into bar ``j + 1``."""
    return np.diff(np.log(np.asarray(close, dtype=np.float64)))


def persistence_vol(close: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Realized volatility of the ``horizon`` returns ending at each origin."""
    r = _log_returns(close)
    past = np.asarray(origins)[:, None] - np.arange(horizon)[None, :] - 1
    return np.sqrt((r[past] ** 2).sum(1))


def trailing_vol(close: np.ndarray, origins: np.ndarray, horizon: int, trailing: int = 63) -> np.ndarray:
    """``sqrt(horizon x mean r^2)`` over the ``trailing`` returns ending at each origin."""
    r = _log_returns(close)
    idx = np.asarray(origins)[:, None] - np.arange(trailing)[None, :] - 1
    return np.sqrt(horizon * (r[idx] ** 2).mean(1))


def garch_vol(close: np.ndarray, origins: np.ndarray, horizon: int, window: int = 750, refit_every: int = 5
              ) -> np.ndarray:
    """GARCH(1,1) forecasts (constant mean, normal errors, percent returns) from the ``window`` returns up to each
    origin; refitted every ``refit_every`` origins and filtered with the last fit's parameters in between."""
    from arch import arch_model

    r = _log_returns(close)
    out = np.empty(len(origins))
    params = None
    for i, o in enumerate(origins):
        x = 100 * r[max(0, o - window):o]  # r[o - 1] is the return into bar o: the last one observed
        if params is None or i % refit_every == 0:
            params = arch_model(x, mean="Constant", vol="GARCH", p=1, q=1).fit(disp="off").params
        fc = arch_model(x, mean="Constant", vol="GARCH", p=1, q=1).fix(params).forecast(horizon=horizon)
        out[i] = math.sqrt(fc.variance.values[-1].sum()) / 100
    return out


def har_rv_vol(close: np.ndarray, origins: np.ndarray, horizon: int, window: int = 1000) -> np.ndarray:
    """HAR-RV forecasts: at origin ``o`` the OLS of ``RV_{k+1..k+H}`` on ``[1, rv_d(k), rv_w(k), rv_m(k)]`` over
    ``k`` in the last ``window`` returns with ``k + H <= o - 1`` (targets observed), evaluated at ``k = o - 1``;
    a negative fitted variance is floored at a tenth of the monthly mean."""
    rr = _log_returns(close) ** 2
    n = len(rr)
    c = np.concatenate([[0.0], np.cumsum(rr)])
    k = np.arange(n)

    def mean_back(width: int) -> np.ndarray:
        lo = np.maximum(k - width + 1, 0)
        return (c[k + 1] - c[lo]) / (k + 1 - lo)

    x = np.stack([np.ones(n), rr, mean_back(5), mean_back(22)], axis=1)
    target = np.full(n, np.nan)
    target[:n - horizon] = c[horizon + 1 + k[:n - horizon]] - c[k[:n - horizon] + 1]
    out = np.empty(len(origins))
    for i, o in enumerate(origins):
        last = o - 1
        rows = np.arange(max(21, last - window), last - horizon + 1)
        beta = np.linalg.lstsq(x[rows], target[rows], rcond=None)[0]
        pred = float(x[last] @ beta)
        out[i] = math.sqrt(max(pred, 0.1 * horizon * x[last, 3]))
    return out


def range_vol(bars: np.ndarray, origins: np.ndarray, horizon: int, trailing: int = 21) -> np.ndarray:
    """Garman-Klass range variance ``0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2`` plus the overnight ``ln(O/C_prev)^2``,
    averaged over the ``trailing`` bars ending at each origin, times ``horizon``, square-rooted. ``bars [T, 4+]``
    are open, high, low, close."""
    o, h, lo, cl = (np.asarray(bars[:, j], dtype=np.float64) for j in range(4))
    daily = 0.5 * np.log(h / lo) ** 2 - (2 * math.log(2) - 1) * np.log(cl / o) ** 2
    daily[1:] += np.log(o[1:] / cl[:-1]) ** 2
    idx = np.asarray(origins)[:, None] - np.arange(trailing)[None, :]
    return np.sqrt(horizon * daily[idx].mean(1))


def volatility_baselines(bars: np.ndarray, origins: np.ndarray, horizon: int, trailing: int = 63
                         ) -> dict[str, np.ndarray]:
    """Every baseline's forecasts at ``origins`` from OHLC(V) rows ``bars [T, 4+]``: persistence, trailing,
    garch11, har_rv, range (Garman-Klass)."""
    close = bars[:, 3]
    return {"persistence": persistence_vol(close, origins, horizon),
            "trailing": trailing_vol(close, origins, horizon, trailing),
            "garch11": garch_vol(close, origins, horizon),
            "har_rv": har_rv_vol(close, origins, horizon),
            "range": range_vol(bars, origins, horizon)}
