"""Classical hedging strategies for a short European call, as hedge arrays for ``hedging_pnl``.

Every function returns ``hedge [n_paths, n_steps]``: units of the underlying held over (t_i, t_{i+1}], computed
from information at t_i only (spot, variance, time). Prices are discounted (zero rate), as in
:func:`qfin.data.simulate.hedging_pnl`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ..data.simulate._payoffs import Vanilla, check_payoff
from ._black_scholes import bs_delta, bs_gamma
from ._common import invalid
from ._heston import heston_probabilities
from ._instruments import Instrument, Underlying, check_instruments, instrument_prices, variance_swap_values

__all__ = [
    "HedgingMarket",
    "bs_delta_hedge",
    "delta_vega_swap_hedge",
    "heston_delta_hedge",
    "min_variance_hedge",
    "no_hedge",
    "variance_swap_prices",
    "whalley_wilmott_hedge",
]


@dataclass(frozen=True)
class HedgingMarket:
    """Simulated market for hedging a short claim: spot and variance on the rebalancing dates.

    spot, variance : [n_paths, n_steps + 1]; strike : the reference level of the hedger's moneyness feature (and
    the call's strike when ``claim`` is None); maturity (years); params : the model that generated the paths
    (:class:`~qfin.data.simulate.HestonParams` or :class:`BlackScholesModel`; the model-based hedges and the
    listed option's pricer read it). claim : the payoff, any :mod:`qfin.data.simulate` payoff or a callable
    ``paths -> [n_paths]`` (None: the call ``Vanilla(strike)``), checked once here; instruments : what the hedger
    trades (default: the underlying alone), checked against the model and the claim's maturity.
    """

    spot: np.ndarray
    variance: np.ndarray
    strike: float
    maturity: float
    params: Any
    claim: Callable[[np.ndarray], Any] | None = None
    instruments: tuple[Instrument, ...] = (Underlying(),)

    def __post_init__(self) -> None:
        if self.claim is None:
            object.__setattr__(self, "claim", Vanilla(float(self.strike)))
        if hasattr(self.claim, "check_spot"):
            self.claim.check_spot(float(np.asarray(self.spot)[0, 0]))
        object.__setattr__(self, "instruments", check_instruments(self.instruments, self.params, self.maturity))
        self.__dict__["payoff"] = check_payoff(self.claim, self.spot)

    @property
    def n_steps(self) -> int:
        return self.spot.shape[1] - 1

    @property
    def tau(self) -> np.ndarray:
        """Time to maturity at each decision date t_0 .. t_{n-1}, [n_steps]."""
        return self.maturity * (1.0 - np.arange(self.n_steps) / self.n_steps)

    @cached_property
    def payoff(self) -> np.ndarray:
        """The claim's payoff on every path [n_paths] (float64)."""
        return check_payoff(self.claim, self.spot)

    @cached_property
    def prices(self) -> np.ndarray:
        """Every instrument's price on every date [n_paths, n_steps + 1, n_instruments]."""
        return instrument_prices(self.instruments, self.spot, self.variance, self.maturity, self.params)

    @property
    def only_underlying(self) -> bool:
        return len(self.instruments) == 1 and isinstance(self.instruments[0], Underlying)

    def costs(self, default: float) -> list[float]:
        """Each instrument's cost rate, ``default`` where it has none of its own."""
        return [default if inst.cost is None else float(inst.cost) for inst in self.instruments]


def no_hedge(market: HedgingMarket) -> np.ndarray:
    """Hold nothing."""
    return np.zeros_like(market.spot[:, :-1])


def bs_delta_hedge(market: HedgingMarket, vol: float) -> np.ndarray:
    """Black–Scholes delta at a constant ``vol`` (e.g. the ATM implied vol of the Heston price at t = 0)."""
    tau = market.tau[None, :]
    return np.asarray(bs_delta(market.spot[:, :-1], market.strike, tau, 0.0, vol))


def _heston_grids(market: HedgingMarket, step: int, n_x: int = 33, n_v: int = 17) -> tuple[np.ndarray, ...]:
    """Heston delta and dC/dv at step ``step`` on a (log-moneyness, variance) grid spanning that step's paths.

    The P1/P2 integrals cost too much path by path (tiny variance near maturity needs a long integration range),
    so they are evaluated on a grid and interpolated by cubic splines; the grid spacing (1/32 of the x range, 1/16
    of the v range) keeps the interpolation error of the delta well below the hedging error of daily rebalancing.
    """
    p = market.params
    s, v, tau = market.spot[:, step], market.variance[:, step], float(market.tau[step])
    x = np.log(s / market.strike)
    xs = np.linspace(x.min() - 1e-6, x.max() + 1e-6, n_x)
    vs = np.linspace(max(v.min() - 1e-9, 0.0), v.max() + 1e-9, n_v)
    xg, vg = np.meshgrid(xs, vs, indexing="ij")
    spot = market.strike * np.exp(xg)
    p1, p2 = heston_probabilities(spot, market.strike, tau, 0.0, vg, p.kappa, p.theta, p.sigma, p.rho,
                                  epsabs=1e-7, warn=False)
    price = spot * p1 - market.strike * p2
    dc_dv = np.gradient(price, vs, axis=1)
    points = np.column_stack([x, v])
    delta = RegularGridInterpolator((xs, vs), p1, method="cubic")(points)
    vega = RegularGridInterpolator((xs, vs), dc_dv, method="cubic")(points)
    return delta, vega


def heston_delta_hedge(market: HedgingMarket) -> tuple[np.ndarray, np.ndarray]:
    """Heston delta ``P1`` (variance held fixed) and dC/dv along every path; both [n_paths, n_steps]."""
    out = [_heston_grids(market, i) for i in range(market.n_steps)]
    return np.stack([d for d, _ in out], axis=1), np.stack([g for _, g in out], axis=1)


def min_variance_hedge(market: HedgingMarket, delta: np.ndarray, dc_dv: np.ndarray) -> np.ndarray:
    """Minimum-variance delta under Heston: delta + rho sigma / S * dC/dv.

    The hedge minimising the instantaneous variance of dC - h dS when dv = sigma sqrt(v) dW_v is correlated with
    dS = sqrt(v) S dW_S (Bakshi, Cao & Chen 1997, J. Finance 52(5), eq. 19; Alexander & Nogueira 2007).
    """
    p = market.params
    return delta + p.rho * p.sigma / market.spot[:, :-1] * dc_dv


def whalley_wilmott_hedge(market: HedgingMarket, vol: float, cost: float, risk_aversion: float = 1.0) -> np.ndarray:
    """Whalley–Wilmott no-trade band around the Black–Scholes delta: trade only to the band's edge.

    Half-width H = (3 cost S Gamma^2 / (2 gamma))^{1/3} (Whalley & Wilmott 1997, Math. Finance 7(3), eq. 4.6,
    zero rate), with the absolute risk aversion gamma = risk_aversion / S so the band is invariant to the price
    level (a relative risk aversion ``risk_aversion``).
    """
    if cost <= 0.0:
        return bs_delta_hedge(market, vol)
    if not risk_aversion > 0.0:
        raise invalid("risk_aversion", f"must be > 0, got {risk_aversion!r}")
    s = market.spot[:, :-1]
    tau = market.tau[None, :]
    delta = np.asarray(bs_delta(s, market.strike, tau, 0.0, vol))
    gamma = np.asarray(bs_gamma(s, market.strike, tau, 0.0, vol))
    half = (1.5 * cost * s * gamma ** 2 / (risk_aversion / s)) ** (1.0 / 3.0)
    hedge = np.empty_like(delta)
    held = np.zeros(s.shape[0])
    for i in range(delta.shape[1]):  # path-dependent: the band acts on the previous holding
        held = np.clip(held, delta[:, i] - half[:, i], delta[:, i] + half[:, i])
        hedge[:, i] = held
    return hedge


def variance_swap_prices(market: HedgingMarket) -> np.ndarray:
    """Mark-to-market of a variance swap paying the realised variance sum(log-return^2), [n_paths, n_steps + 1].

    Value at t = realised so far + E[int_t^T v ds | v_t] = sum_{s<t} r_s^2 + theta tau + (v_t - theta)(1 - e^{-kappa
    tau}) / kappa (the CIR conditional mean). Its changes are the gains of holding one unit of the swap.
    """
    return variance_swap_values(market.spot, market.variance, np.append(market.tau, 0.0), market.params)


def delta_vega_swap_hedge(market: HedgingMarket, delta: np.ndarray, dc_dv: np.ndarray) -> np.ndarray:
    """Units of the variance swap that neutralise dC/dv: dC/dv / (dVS/dv), dVS/dv = (1 - e^{-kappa tau}) / kappa.

    Used together with the Heston delta in the underlying (the swap has no delta).
    """
    p = market.params
    sens = (1.0 - np.exp(-p.kappa * market.tau)) / p.kappa
    return dc_dv / sens[None, :]
