"""Heston calibration: to option quotes by bounded least squares, and historically from an index and its VIX."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from ..data.simulate import HestonParams
from ._black_scholes import bs_price, bs_vega, implied_vol
from ._common import as_array, check_kind, invalid
from ._heston import FellerWarning, heston_price
from ._heston_estimate import estimate_heston

__all__ = ["HestonCalibration", "calibrate_heston", "heston_from_history"]

# (v0, kappa, theta, sigma, rho): wide enough for equity surfaces, tight enough to keep the integrals tame
DEFAULT_BOUNDS = ((1e-4, 0.05, 1e-4, 0.01, -0.999), (1.0, 20.0, 1.0, 3.0, 0.999))


@dataclass(frozen=True)
class HestonCalibration:
    """Result of :func:`calibrate_heston`.

    params : the fitted :class:`~qfin.data.simulate.HestonParams`.
    feller : whether 2 kappa theta > sigma^2; feller_ratio is 2 kappa theta / sigma^2.
    iv_rmse : root-mean-square implied-vol error of the fit; max_price_error : largest |model - quote| price.
    success, message, n_evaluations : from scipy's least_squares.
    """

    params: HestonParams
    feller: bool
    feller_ratio: float
    iv_rmse: float
    max_price_error: float
    success: bool
    message: str
    n_evaluations: int


def calibrate_heston(spot: float, strikes: Any, maturities: Any, quotes: Any, rate: float = 0.0,
                     dividend: float = 0.0, kind: Any = "call", quote_type: str = "price",
                     x0: tuple[float, float, float, float, float] = (0.04, 2.0, 0.04, 0.5, -0.5),
                     bounds: tuple[tuple[float, ...], tuple[float, ...]] = DEFAULT_BOUNDS) -> HestonCalibration:
    """Fit (v0, kappa, theta, sigma, rho) to European option quotes by bounded least squares on implied vols.

    The residual of quote i is the implied-vol error (model_price_i - quote_price_i) / vega_i, the first-order
    implied-vol difference with the market vega held fixed (it avoids inverting model prices at every trial
    point and is exact to first order at the optimum); scipy's trust-region-reflective ``least_squares`` keeps
    the parameters inside ``bounds``. A Feller violation of the result is reported (``feller``) and warned.

    Parameters
    ----------
    spot : underlying price.
    strikes, maturities, quotes : arrays of one shape (or broadcastable), one entry per quote; maturities in
        years > 0; quotes are prices (``quote_type="price"``) or Black–Scholes implied vols (``"vol"``).
    rate, dividend : continuously compounded, per year.
    kind : "call"/"put" or an array of them.
    x0 : starting point; bounds : (lower, upper) for (v0, kappa, theta, sigma, rho).
    """
    s = float(as_array(spot, "spot", positive=True))
    k = as_array(strikes, "strikes", positive=True)
    t = as_array(maturities, "maturities", positive=True)
    quotes_arr = as_array(quotes, "quotes", positive=True)
    is_call = check_kind(kind)
    k, t, quotes_arr, is_call = (a.ravel() for a in np.broadcast_arrays(k, t, quotes_arr, is_call))
    kinds = np.where(is_call, "call", "put")
    if quote_type == "price":
        prices = quotes_arr
        vols = np.asarray(implied_vol(prices, s, k, t, rate, kinds, dividend))
    elif quote_type == "vol":
        vols = quotes_arr
        prices = np.asarray(bs_price(s, k, t, rate, vols, kinds, dividend))
    else:
        raise invalid("quote_type", f"must be 'price' or 'vol', got {quote_type!r}")
    vega = np.maximum(np.asarray(bs_vega(s, k, t, rate, vols, dividend)), 1e-8 * s)
    lower, upper = (np.asarray(b, dtype=np.float64) for b in bounds)
    start = np.clip(np.asarray(x0, dtype=np.float64), lower, upper)

    def models(xs: np.ndarray) -> np.ndarray:
        """Model prices [m, n] for m parameter vectors xs [m, 5], all in one vectorised pricing call."""
        cols = [xs[:, i:i + 1] for i in range(5)]
        return np.asarray(heston_price(s, k[None, :], t[None, :], rate, *cols, kind=kinds[None, :],
                                       dividend=dividend, epsabs=1e-11, warn=False))

    def model(x: np.ndarray) -> np.ndarray:
        return models(x[None, :])[0]

    def jacobian(x: np.ndarray) -> np.ndarray:
        # forward differences (scipy's 2-point steps, turned inward at an upper bound), every perturbed model
        # priced in the same call as the base point
        h = np.sqrt(np.finfo(float).eps) * np.maximum(np.abs(x), 1e-2)
        h = np.where(x + h > upper, -h, h)
        values = models(np.vstack([x, x + np.diag(h)]))
        return ((values[1:] - values[0]) / h[:, None]).T / vega[:, None]

    fit = least_squares(lambda x: (model(x) - prices) / vega, start, jac=jacobian, bounds=(lower, upper),
                        method="trf", x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=500)
    v0, kappa, theta, sigma, rho = (float(v) for v in fit.x)
    params = HestonParams(v0, kappa, theta, sigma, rho)
    ratio = 2.0 * kappa * theta / sigma ** 2
    if ratio <= 1.0:
        warnings.warn(f"calibrated Heston parameters violate the Feller condition (2 kappa theta / sigma^2 = "
                      f"{ratio:.3f} <= 1)", FellerWarning, stacklevel=2)
    errors = model(fit.x) - prices
    return HestonCalibration(params, ratio > 1.0, ratio, float(np.sqrt(np.mean((errors / vega) ** 2))),
                             float(np.max(np.abs(errors))), bool(fit.success), str(fit.message), int(fit.nfev))


def heston_from_history(prices: Any, vix: Any, periods_per_year: float = 252.0, *, horizon_days: float = 30.0,
                        variance_premium: bool = False) -> HestonParams:
    """Historical Heston estimate from aligned daily index closes and VIX levels (percent).

    The spot variance is backed out of VIX^2 with the Heston relation VIX^2 = theta + (v - theta)(1 -
    e^{-kappa tau}) / (kappa tau), tau = horizon_days / 365, and (kappa, theta, sigma, rho) are estimated jointly
    by maximum likelihood (:func:`estimate_heston`, which also gives standard errors); v0 is the last backed-out
    variance. (Before, VIX^2 itself stood in for v, which shrinks every variance move by that factor.)

    Parameters
    ----------
    prices : [T] index closes on the same dates as ``vix`` (> 0, finite).
    vix : [T] VIX levels in percent (> 0, finite).
    periods_per_year, horizon_days, variance_premium : as in :func:`estimate_heston`.
    """
    return estimate_heston(prices, vix, periods_per_year, horizon_days, variance_premium=variance_premium).params
