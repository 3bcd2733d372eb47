"""Synthetic markets: seeded, vectorised simulators returning float64 price paths ``[n_paths, n_steps + 1]``.

- :func:`gbm`: geometric Brownian motion (exact log-normal steps).
- :func:`heston`: Heston stochastic volatility, Andersen's QE-M scheme or full-truncation Euler;
  :class:`HestonParams` holds its five parameters.
- :func:`garch`: GARCH(1,1) log-returns with normal or Student-t innovations.
- :func:`merton_jump`: Merton jump-diffusion (exact steps).
- :func:`hedging_pnl`: P&L of a short option hedged with the underlying (numpy or differentiable torch);
  :func:`hedging_step_pnl` its per-step increments.
- :func:`simulate_klines`: daily OHLCV K-lines (GARCH, Heston, regime, jump) with intrabar sub-steps;
  :func:`draw_kline_params` its per-path parameters.
- :func:`regime_switching`: Markov regime-switching GBM; :func:`stationary_distribution` of its chain.
- Payoffs of whole paths: :class:`Vanilla`, :class:`Spread`, :class:`Digital`, :class:`AsianOption`,
  :class:`LookbackOption`, :class:`BarrierOption`; :func:`check_payoff` for a user's callable.

Column 0 of every price array is ``s0``; time is in years with ``dt = maturity / n_steps`` (GARCH counts
periods). Randomness comes only from ``seed`` (an int or a ``numpy.random.Generator``).
"""

from ._garch import garch
from ._gbm import gbm
from ._hedging import HedgingPnL, hedging_increment, hedging_pnl, hedging_step_pnl, hedging_terminal
from ._heston import HestonParams, heston
from ._jumps import merton_jump
from ._klines import KLINE_MODELS, KLINE_PARAM_RANGES, draw_kline_params, simulate_klines
from ._payoffs import AsianOption, BarrierOption, Digital, LookbackOption, Spread, Vanilla, check_payoff
from ._regimes import regime_switching, stationary_distribution

__all__ = [
    "KLINE_MODELS",
    "KLINE_PARAM_RANGES",
    "AsianOption",
    "BarrierOption",
    "Digital",
    "HedgingPnL",
    "HestonParams",
    "LookbackOption",
    "Spread",
    "Vanilla",
    "check_payoff",
    "draw_kline_params",
    "garch",
    "gbm",
    "hedging_increment",
    "hedging_pnl",
    "hedging_step_pnl",
    "hedging_terminal",
    "heston",
    "merton_jump",
    "regime_switching",
    "simulate_klines",
    "stationary_distribution",
]
