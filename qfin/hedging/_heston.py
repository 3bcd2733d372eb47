"""Heston (1993) European option prices, deltas and exercise probabilities by Fourier inversion.

With F = S e^{(r-q)T}, k = log(K/F) and phi the characteristic function of log(S_T/F) (in the "little Heston
trap" form of Albrecher, Mayer, Schoutens & Tistaert 2007, which keeps the complex logarithm on its principal
branch), the call in units of the forward is one integral on a contour shifted by the damping alpha
(Carr & Madan 1999, Lord & Kahl 2007); P1 and P2 are its strike derivatives::

    call = S e^{-qT} c(k),    put = S e^{-qT} p(k),    c - p = 1 - e^k (put–call parity, exact)
    delta_call = e^{-qT} P1,  call = S e^{-qT} P1 - K e^{-rT} P2   (Heston 1993, eqs. 10 and 17-18)

alpha, the truncation and the quadrature are chosen per option from the parameters (see
:mod:`qfin.hedging._heston_fourier`): the out-of-the-money option is integrated (its relative accuracy kept even
for prices of 1e-20) and the other follows by parity; results are clipped to the no-arbitrage bounds.
Many strikes and maturities in one call share the characteristic function and run as one vectorised computation.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._common import as_array, check_kind, invalid
from ._heston_fourier import MODE_P1, MODE_P2, MODE_PRICE, fourier_integrals

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


def _flat_inputs(spot, strike, maturity, rate, dividend, v0, kappa, theta, sigma, rho, warn):
    """Validated inputs broadcast and raveled, the output shape, and log-moneyness k = log(K / F)."""
    s = as_array(spot, "spot", positive=True)
    k = as_array(strike, "strike", positive=True)
    t = as_array(maturity, "maturity", positive=True)
    r = as_array(rate, "rate")
    q = as_array(dividend, "dividend")
    params = check_heston_params(v0, kappa, theta, sigma, rho, warn=warn)
    shape = np.broadcast_shapes(s.shape, k.shape, t.shape, r.shape, q.shape, *(p.shape for p in params))
    flat = [np.broadcast_to(a, shape).ravel() for a in (s, k, t, r, q, *params)]
    s, k, t, r, q = flat[:5]
    logk = np.log(k / s) - (r - q) * t
    return shape, s, k, t, r, q, logk, flat[5:]


def heston_probabilities(spot: Any, strike: Any, maturity: Any, rate: Any, v0: Any, kappa: Any, theta: Any,
                         sigma: Any, rho: Any, dividend: Any = 0.0, *, epsabs: float = 1e-15,
                         max_upper: float | None = None, warn: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The Heston exercise probabilities ``(P1, P2)``, arrays of the broadcast shape of all inputs.

    Arguments as in :func:`heston_price`; ``epsabs`` is the absolute quadrature tolerance on each probability.
    """
    shape, _, _, t, _, _, logk, (v0, kappa, theta, sigma, rho) = _flat_inputs(
        spot, strike, maturity, rate, dividend, v0, kappa, theta, sigma, rho, warn)
    model = (t, v0, kappa, theta, sigma, rho)
    n = logk.size
    mode = np.repeat(np.array([MODE_P1, MODE_P2]), n)
    j, alpha = fourier_integrals(mode, np.tile(logk, 2), *(np.tile(a, 2) for a in model), epsabs=epsabs,
                                 max_upper=max_upper)
    p1 = j[:n] + (alpha[:n] < 0.0)
    p2 = j[n:] + (alpha[n:] < -1.0)
    return p1.reshape(shape), p2.reshape(shape)


def _out(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def heston_price(spot: Any, strike: Any, maturity: Any, rate: Any, v0: Any, kappa: Any, theta: Any, sigma: Any,
                 rho: Any, kind: Any = "call", dividend: Any = 0.0, *, epsabs: float = 1e-15,
                 max_upper: float | None = None, warn: bool = True) -> Any:
    """Heston (1993) price of a European call or put (Fourier integral at the optimal damping, see the module doc).

    Parameters
    ----------
    spot, strike : > 0 (arrays broadcast with every other argument: many strikes and maturities in one call).
    maturity : years to expiry, > 0.
    rate : continuously compounded risk-free rate per year.
    v0 : initial variance >= 0; kappa : mean-reversion speed > 0; theta : long-run variance > 0;
    sigma : vol of variance > 0; rho : price/variance correlation in [-1, 1].
    kind : "call" or "put" (the out-of-the-money one is integrated, the other follows by put–call parity).
    dividend : continuous dividend yield per year.
    epsabs : absolute quadrature tolerance on price / (spot e^{-qT}) (the error estimate is conservative: the
        errors found against 30-digit integrals are far smaller).
    max_upper : optional cap on the truncation point of the integral (by default read off the integrand).
    warn : emit :class:`FellerWarning` when 2 kappa theta <= sigma^2.

    Returns
    -------
    float or float64 array of the broadcast shape, inside the no-arbitrage bounds.
    """
    is_call = check_kind(kind)
    shape, s, k, t, r, q, logk, (v0, kappa, theta, sigma, rho) = _flat_inputs(
        spot, strike, maturity, rate, dividend, v0, kappa, theta, sigma, rho, warn)
    model = (t, v0, kappa, theta, sigma, rho)
    integral, alpha = fourier_integrals(np.full(logk.size, MODE_PRICE), logk, *model, epsabs=epsabs,
                                        max_upper=max_upper)
    # the integral is c = E[(e^X - e^k)^+] (alpha > 0), c - 1 (-1 < alpha < 0) or p = E[(e^k - e^X)^+]
    # (alpha < -1) in units of the forward: the out-of-the-money option keeps its relative accuracy, the other
    # is put-call parity in price units, call - put = S e^{-qT} - K e^{-rT}, from the exact inputs
    # (discounting as x + x expm1(-rT) and K - S first keep the parity term to about one rounding)
    s_q, k_r = s * np.expm1(-q * t), k * np.expm1(-r * t)
    fs, dk = s + s_q, k + k_r
    dk_minus_fs = (k - s) + (k_r - s_q)
    direct_put = alpha < -1.0
    call = np.where(alpha > 0.0, fs * integral, fs + fs * integral)
    put = np.where(direct_put, fs * integral, call + dk_minus_fs)
    call = np.where(direct_put, put - dk_minus_fs, call)
    call = np.clip(call, np.maximum(fs - dk, 0.0), fs).reshape(shape)
    put = np.clip(put, np.maximum(dk - fs, 0.0), dk).reshape(shape)
    return _out(np.where(is_call, call, put))


def heston_delta(spot: Any, strike: Any, maturity: Any, rate: Any, v0: Any, kappa: Any, theta: Any, sigma: Any,
                 rho: Any, kind: Any = "call", dividend: Any = 0.0, *, epsabs: float = 1e-15,
                 max_upper: float | None = None, warn: bool = True) -> Any:
    """Heston delta dPrice/dSpot (variance held fixed): ``e^{-qT} P1`` for a call, ``e^{-qT} (P1 - 1)`` for a put."""
    is_call = check_kind(kind)
    p1, _ = heston_probabilities(spot, strike, maturity, rate, v0, kappa, theta, sigma, rho, dividend,
                                 epsabs=epsabs, max_upper=max_upper, warn=warn)
    disc = np.exp(-np.asarray(dividend, dtype=np.float64) * np.asarray(maturity, dtype=np.float64))
    return _out(disc * np.where(is_call, p1, p1 - 1.0))
