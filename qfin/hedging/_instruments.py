"""Hedging instruments and their prices along simulated paths: the underlying, a variance swap and a listed option.

A hedger may trade several instruments at once, each with its own proportional cost. Every instrument's price is
known on every rebalancing date of every path (zero rate, so prices are discounted):

- :class:`Underlying`: the spot itself.
- :class:`VarianceSwap` (Heston only): pays the realised variance sum(log-return^2) at the claim's maturity; its
  value at t is the variance realised so far plus the CIR conditional mean of the rest,
  ``theta tau + (v_t - theta)(1 - e^{-kappa tau}) / kappa``.
- :class:`ListedOption`: a call or put (ATM by default) expiring at or after the claim, repriced on every date by
  the model's own pricer: Black–Scholes for a :class:`BlackScholesModel` market, Heston's Fourier integrals for a
  Heston market (evaluated on a (log-moneyness, variance) grid per date and interpolated by cubic splines, so
  pricing 10,000 paths costs one grid per date).

:func:`portfolio_pnl` is the P&L of trading all of them: per instrument the same :func:`hedging_pnl` the single
instrument hedge uses (numpy or differentiable torch), the claim paid once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ..data.simulate import HestonParams, hedging_pnl
from ..errors import QfinError
from ._black_scholes import bs_price
from ._heston import heston_probabilities

__all__ = ["BlackScholesModel", "Instrument", "ListedOption", "Underlying", "VarianceSwap", "check_instruments",
           "instrument_name", "instrument_prices", "listed_option_prices", "portfolio_pnl", "variance_swap_values"]


@dataclass(frozen=True)
class BlackScholesModel:
    """Geometric Brownian motion at a constant ``vol`` (per sqrt(year)): the market of a GBM hedging problem.

    ``theta`` and ``v0`` (the variance vol^2) let the hedger normalise its features as under Heston.
    """

    vol: float

    def __post_init__(self) -> None:
        if isinstance(self.vol, bool) or not isinstance(self.vol, (int, float)) or not 0.0 < self.vol < np.inf:
            raise QfinError(f"BlackScholesModel: vol must be a number > 0, got {self.vol!r}")

    @property
    def theta(self) -> float:
        return float(self.vol) ** 2

    @property
    def v0(self) -> float:
        return float(self.vol) ** 2


def _cost(cost: Any, where: str) -> None:
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0.0 <= cost < 1.0):
        raise QfinError(f"{where}: cost must be a proportional rate in [0, 1) (0.001 = 10 bp) or None (the "
                        f"hedger's cost); got {cost!r}")


@dataclass(frozen=True)
class Underlying:
    """The spot; ``cost`` None takes the hedger's ``cost``."""

    cost: float | None = None

    def __post_init__(self) -> None:
        _cost(self.cost, "Underlying")


@dataclass(frozen=True)
class VarianceSwap:
    """A variance swap on the claim's dates (Heston markets only); ``cost`` None takes the hedger's ``cost``."""

    cost: float | None = None

    def __post_init__(self) -> None:
        _cost(self.cost, "VarianceSwap")


@dataclass(frozen=True)
class ListedOption:
    """A listed European option: ``strike`` None is at the money (today's spot); ``maturity`` (years) None is the
    claim's; it must not expire before the claim. ``cost`` None takes the hedger's ``cost``."""

    strike: float | None = None
    maturity: float | None = None
    kind: Literal["call", "put"] = "call"
    cost: float | None = None

    def __post_init__(self) -> None:
        _cost(self.cost, "ListedOption")
        for name in ("strike", "maturity"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0.0 < value < np.inf):
                raise QfinError(f"ListedOption: {name} must be a number > 0 or None, got {value!r}")
        if self.kind not in ("call", "put"):
            raise QfinError(f"ListedOption: kind must be 'call' or 'put', got {self.kind!r}")


Instrument = Underlying | VarianceSwap | ListedOption


def instrument_name(instrument: Instrument) -> str:
    """A short label: "underlying", "variance swap", "listed call K=100 T=0.082"."""
    if isinstance(instrument, Underlying):
        return "underlying"
    if isinstance(instrument, VarianceSwap):
        return "variance swap"
    strike = "ATM" if instrument.strike is None else f"K={instrument.strike:g}"
    return f"listed {instrument.kind} {strike}"


def check_instruments(instruments: Sequence[Any], params: Any, maturity: float) -> tuple[Instrument, ...]:
    """The instruments as a tuple, or one :class:`QfinError` line: an unknown object, an instrument with no price
    in this model, a listed option expiring before the claim."""
    out = tuple(instruments)
    if not out:
        raise QfinError("instruments: give at least one hedging instrument (e.g. Underlying())")
    for i, inst in enumerate(out):
        if not isinstance(inst, (Underlying, VarianceSwap, ListedOption)):
            raise QfinError(f"instruments[{i}]: {inst!r} has no price along the paths; accepted: Underlying(), "
                            "VarianceSwap(), ListedOption(strike, maturity, kind)")
        if isinstance(inst, VarianceSwap) and not isinstance(params, HestonParams):
            raise QfinError(f"instruments[{i}]: a variance swap has no price in a {type(params).__name__} market "
                            "(its value needs the Heston variance process); use Heston paths or leave it out")
        if isinstance(inst, ListedOption):
            if not isinstance(params, (HestonParams, BlackScholesModel)):
                raise QfinError(f"instruments[{i}]: a listed option has no pricer for a {type(params).__name__} "
                                "market; accepted: HestonParams, BlackScholesModel")
            if inst.maturity is not None and inst.maturity < maturity * (1.0 - 1e-12):
                raise QfinError(f"instruments[{i}]: the listed option expires at {inst.maturity:.4g} years, before "
                                f"the hedged claim ({maturity:.4g} years); give a maturity >= the claim's or None")
    return out


def variance_swap_values(spot: np.ndarray, variance: np.ndarray, tau: np.ndarray, params: HestonParams) -> np.ndarray:
    """Value of a variance swap on every date [n_paths, n_steps + 1]: realised so far plus the expected rest.

    ``tau``: time to maturity on the n_steps + 1 dates (0 at the end).
    """
    r2 = np.diff(np.log(spot), axis=1) ** 2
    realised = np.concatenate([np.zeros((r2.shape[0], 1)), np.cumsum(r2, axis=1)], axis=1)
    tau = np.asarray(tau, dtype=np.float64)[None, :]
    expected = params.theta * tau + (variance - params.theta) * (1.0 - np.exp(-params.kappa * tau)) / params.kappa
    return realised + expected


def _heston_prices_on_grid(spot: np.ndarray, var: np.ndarray, strike: float, tau: float, params: HestonParams,
                           kind: str, n_x: int = 33, n_v: int = 17) -> np.ndarray:
    """Heston prices of one date's paths, by cubic interpolation on a (log-moneyness, variance) grid."""
    x = np.log(spot / strike)
    xs = np.linspace(x.min() - 1e-6, x.max() + 1e-6, n_x)
    vs = np.linspace(max(var.min() - 1e-9, 0.0), var.max() + 1e-9, n_v)
    xg, vg = np.meshgrid(xs, vs, indexing="ij")
    grid_spot = strike * np.exp(xg)
    p1, p2 = heston_probabilities(grid_spot, strike, tau, 0.0, vg, params.kappa, params.theta, params.sigma,
                                  params.rho, epsabs=1e-8, warn=False)
    call = grid_spot * p1 - strike * p2
    price = call if kind == "call" else call - grid_spot + strike
    # interpolate price / spot, the value per unit of spot (homogeneity: a function of x and v alone)
    out = RegularGridInterpolator((xs, vs), price / grid_spot, method="cubic")(np.column_stack([x, var])) * spot
    return np.maximum(out, np.maximum(spot - strike, 0.0) if kind == "call" else np.maximum(strike - spot, 0.0))


def listed_option_prices(option: ListedOption, spot: np.ndarray, variance: np.ndarray, times: np.ndarray,
                         params: Any) -> np.ndarray:
    """The listed option's price on every date [n_paths, n_steps + 1] (``times``: the dates in years from today)."""
    strike = float(spot[0, 0]) if option.strike is None else float(option.strike)
    expiry = float(times[-1]) if option.maturity is None else float(option.maturity)
    out = np.empty_like(spot)
    for i, t in enumerate(times):
        tau = expiry - float(t)
        s = spot[:, i]
        if tau <= 1e-12:
            out[:, i] = np.maximum(s - strike, 0.0) if option.kind == "call" else np.maximum(strike - s, 0.0)
        elif isinstance(params, BlackScholesModel):
            out[:, i] = bs_price(s, strike, tau, 0.0, params.vol, option.kind)
        else:
            out[:, i] = _heston_prices_on_grid(s, variance[:, i], strike, tau, params, option.kind)
    return out


def instrument_prices(instruments: Sequence[Instrument], spot: np.ndarray, variance: np.ndarray, maturity: float,
                      params: Any) -> np.ndarray:
    """Prices of every instrument on every date: [n_paths, n_steps + 1, n_instruments] float64."""
    times = np.linspace(0.0, maturity, spot.shape[1])
    cols = []
    for inst in instruments:
        if isinstance(inst, Underlying):
            cols.append(spot)
        elif isinstance(inst, VarianceSwap):
            cols.append(variance_swap_values(spot, variance, maturity - times, params))
        else:
            cols.append(listed_option_prices(inst, spot, variance, times, params))
    return np.stack(cols, axis=2)


def portfolio_pnl(prices: Any, hedges: Any, payoff: Any, premium: Any, costs: Sequence[float],
                  liquidate: bool = True) -> tuple[Any, Any, Any]:
    """(pnl, costs, turnover) [n_paths] of holding ``hedges`` [n, n_steps, m] of the instruments priced ``prices``
    [n, n_steps + 1, m] against a short claim paying ``payoff``: the sum of the per-instrument
    :func:`hedging_pnl` (instrument j charged at ``costs[j]``), premium and payoff counted once."""
    m = prices.shape[2]
    if tuple(hedges.shape) != (prices.shape[0], prices.shape[1] - 1, m):
        raise QfinError(f"hedges: expected shape [n_paths, n_steps, n_instruments] = "
                        f"{(prices.shape[0], prices.shape[1] - 1, m)}, got {tuple(hedges.shape)}")
    zero = 0.0 * payoff
    pnl = cost_sum = turnover = None
    for j in range(m):
        r = hedging_pnl(prices[:, :, j], hedges[:, :, j], payoff if j == 0 else zero, premium if j == 0 else 0.0,
                        float(costs[j]), liquidate)
        pnl = r.pnl if pnl is None else pnl + r.pnl
        cost_sum = r.costs if cost_sum is None else cost_sum + r.costs
        turnover = r.turnover if turnover is None else turnover + r.turnover
    return pnl, cost_sum, turnover
