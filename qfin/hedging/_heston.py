"""Heston (1993) European option prices and deltas by the semi-analytic P1/P2 Fourier integrals.

With x = log(F/K), F = S e^{(r-q)T} and psi(u) = E[exp(i u log(S_T / F))] the characteristic function of the
log-price (in the "little Heston trap" form of Albrecher, Mayer, Schoutens & Tistaert 2007, Wilmott Magazine,
which keeps the complex logarithm on its principal branch for any T)::

    P1 = 1/2 + 1/pi int_0^inf Re[e^{iux} psi(u - i) / (iu)] du      (exercise probability under the share measure)
    P2 = 1/2 + 1/pi int_0^inf Re[e^{iux} psi(u) / (iu)] du          (risk-neutral exercise probability)
    call = S e^{-qT} P1 - K e^{-rT} P2,     delta_call = e^{-qT} P1

(Heston 1993, eqs. 10 and 17-18; the delta holds because the price is homogeneous of degree one in (S, K)).
The integrand decays like exp(-c u) with c = sqrt(1 - rho^2) / sigma * (v0 + kappa theta T) (the large-u
asymptote of the exponent, also used by QuantLib's AnalyticHestonEngine), so the integral is truncated at
U = 40 / c (integrand below e^{-40}; shorter for a looser ``epsabs``), capped at ``max_upper`` —
large for high vol of vol and short maturities, where c is small — and integrated adaptively (scipy ``quad_vec``,
Gauss–Kronrod) to ``epsabs``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.integrate import quad_vec

from ._common import as_array, check_kind, invalid

__all__ = ["FellerWarning", "check_heston_params", "heston_delta", "heston_price", "heston_probabilities"]


class FellerWarning(UserWarning):
    """The Feller condition 2 kappa theta > sigma^2 fails: the variance can reach zero.

    Prices stay well defined (the formulas hold), but simulation needs a scheme that handles v = 0 (QE) and a
    calibrated model with this property deserves a second look.
    """


def check_heston_params(v0: Any, kappa: Any, theta: Any, sigma: Any, rho: Any, *, warn: bool = True
                        ) -> tuple[np.ndarray, ...]:
    """Validate the five Heston parameters (arrays allowed); warn with :class:`FellerWarning` when Feller fails."""
    v0 = as_array(v0, "v0", non_negative=True)
    kappa = as_array(kappa, "kappa", positive=True)
    theta = as_array(theta, "theta", positive=True)
    sigma = as_array(sigma, "sigma", positive=True)
    rho = as_array(rho, "rho")
    if not ((rho >= -1.0) & (rho <= 1.0)).all():
        raise invalid("rho", f"must lie in [-1, 1], got {rho.ravel()[np.argmax(np.abs(rho.ravel()))]!r}")
    if warn and not (2.0 * kappa * theta > sigma ** 2).all():
        warnings.warn(f"Heston parameters violate the Feller condition 2 kappa theta > sigma^2 "
                      f"(2 * {kappa.ravel()[0]:g} * {theta.ravel()[0]:g} <= {sigma.ravel()[0]:g}^2): the variance "
                      "process can hit zero", FellerWarning, stacklevel=3)
    return v0, kappa, theta, sigma, rho


def _log_cf(u: np.ndarray, t, v0, kappa, theta, sigma, rho) -> np.ndarray:
    """log E[exp(i u log(S_T/F))] for complex u (little-trap form); arrays broadcast."""
    iu = 1j * u
    xi = kappa - sigma * rho * iu
    d = np.sqrt(xi * xi + sigma * sigma * (u * u + iu))
    g = (xi - d) / (xi + d)
    e = np.exp(-d * t)
    big_d = (xi - d) / (sigma * sigma) * (1.0 - e) / (1.0 - g * e)
    big_c = kappa * theta / (sigma * sigma) * ((xi - d) * t - 2.0 * np.log((1.0 - g * e) / (1.0 - g)))
    return big_c + big_d * v0


def heston_probabilities(spot: Any, strike: Any, maturity: Any, rate: Any, v0: Any, kappa: Any, theta: Any,
                         sigma: Any, rho: Any, dividend: Any = 0.0, *, epsabs: float = 1e-12,
                         max_upper: float = 1e5, warn: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The Heston exercise probabilities ``(P1, P2)``, arrays of the broadcast shape of all inputs.

    Arguments as in :func:`heston_price`; ``epsabs`` is the absolute quadrature tolerance on each probability.
    """
    s = as_array(spot, "spot", positive=True)
    k = as_array(strike, "strike", positive=True)
    t = as_array(maturity, "maturity", positive=True)
    r = as_array(rate, "rate")
    q = as_array(dividend, "dividend")
    params = check_heston_params(v0, kappa, theta, sigma, rho, warn=warn)
    s, k, t, r, q, v0, kappa, theta, sigma, rho = (a.ravel() for a in np.broadcast_arrays(s, k, t, r, q, *params))
    shape = np.broadcast_shapes(*(np.shape(a) for a in (spot, strike, maturity, rate, dividend)),
                                *(p.shape for p in params))
    x = np.log(s / k) + (r - q) * t
    decay = np.sqrt(np.maximum(1.0 - rho * rho, 0.0)) / sigma * (v0 + kappa * theta * t)
    # |integrand| <~ e^{-c u}: truncate where it is below epsabs * 1e-5 (u = 40 / c for epsabs = 1e-12)
    reach = max(np.log(1.0 / epsabs), 10.0) * 40.0 / np.log(1e12)
    upper = float(np.clip(reach / np.maximum(decay.min(), 1e-300), 100.0, max_upper))

    def integrand(u: float) -> np.ndarray:
        phase = np.exp(1j * u * x) / (1j * u)
        f1 = np.real(phase * np.exp(_log_cf(u - 1j, t, v0, kappa, theta, sigma, rho)))
        f2 = np.real(phase * np.exp(_log_cf(u + 0j, t, v0, kappa, theta, sigma, rho)))
        return np.concatenate([f1, f2])

    integral, _ = quad_vec(integrand, 0.0, upper, epsabs=epsabs, epsrel=0.0, norm="max", limit=20000)
    n = s.size
    p1 = 0.5 + integral[:n] / np.pi
    p2 = 0.5 + integral[n:] / np.pi
    return p1.reshape(shape), p2.reshape(shape)


def _out(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def heston_price(spot: Any, strike: Any, maturity: Any, rate: Any, v0: Any, kappa: Any, theta: Any, sigma: Any,
                 rho: Any, kind: Any = "call", dividend: Any = 0.0, *, epsabs: float = 1e-12,
                 max_upper: float = 1e5, warn: bool = True) -> Any:
    """Heston (1993) price of a European call or put, semi-analytic (P1/P2 integrals, see the module doc).

    Parameters
    ----------
    spot, strike : > 0 (arrays broadcast with every other argument).
    maturity : years to expiry, > 0.
    rate : continuously compounded risk-free rate per year.
    v0 : initial variance >= 0; kappa : mean-reversion speed > 0; theta : long-run variance > 0;
    sigma : vol of variance > 0; rho : price/variance correlation in [-1, 1].
    kind : "call" or "put" (put by put–call parity, exact).
    dividend : continuous dividend yield per year.
    epsabs : absolute quadrature tolerance on P1 and P2 (prices are accurate to about ``spot * epsabs``).
    max_upper : cap on the truncation point of the integrals.
    warn : emit :class:`FellerWarning` when 2 kappa theta <= sigma^2.

    Returns
    -------
    float or float64 array of the broadcast shape.
    """
    is_call = check_kind(kind)
    p1, p2 = heston_probabilities(spot, strike, maturity, rate, v0, kappa, theta, sigma, rho, dividend,
                                  epsabs=epsabs, max_upper=max_upper, warn=warn)
    s, k, t, r, q = (np.asarray(a, dtype=np.float64) for a in (spot, strike, maturity, rate, dividend))
    fs, dk = s * np.exp(-q * t), k * np.exp(-r * t)
    call = fs * p1 - dk * p2
    return _out(np.where(is_call, call, call - fs + dk))


def heston_delta(spot: Any, strike: Any, maturity: Any, rate: Any, v0: Any, kappa: Any, theta: Any, sigma: Any,
                 rho: Any, kind: Any = "call", dividend: Any = 0.0, *, epsabs: float = 1e-12,
                 max_upper: float = 1e5, warn: bool = True) -> Any:
    """Heston delta dPrice/dSpot (variance held fixed): ``e^{-qT} P1`` for a call, ``e^{-qT} (P1 - 1)`` for a put."""
    is_call = check_kind(kind)
    p1, _ = heston_probabilities(spot, strike, maturity, rate, v0, kappa, theta, sigma, rho, dividend,
                                 epsabs=epsabs, max_upper=max_upper, warn=warn)
    disc = np.exp(-np.asarray(dividend, dtype=np.float64) * np.asarray(maturity, dtype=np.float64))
    return _out(disc * np.where(is_call, p1, p1 - 1.0))
