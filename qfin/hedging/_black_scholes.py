"""Black–Scholes–Merton European option prices, Greeks and implied volatility (numpy, vectorised).

Black & Scholes (1973) with a continuous dividend yield (Merton 1973)::

    d1 = (log(S/K) + (r - q + vol^2/2) T) / (vol sqrt(T)),   d2 = d1 - vol sqrt(T)
    call = S e^{-qT} N(d1) - K e^{-rT} N(d2),                 put = K e^{-rT} N(-d2) - S e^{-qT} N(-d1)

All arguments broadcast against each other; scalars in give floats out. Time in years, rates and vols per year.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from ._common import as_array, check_kind, invalid

__all__ = ["bs_delta", "bs_gamma", "bs_price", "bs_vega", "implied_vol"]


def _out(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def _inputs(spot: Any, strike: Any, maturity: Any, rate: Any, vol: Any, dividend: Any) -> tuple[np.ndarray, ...]:
    s = as_array(spot, "spot", positive=True)
    k = as_array(strike, "strike", positive=True)
    t = as_array(maturity, "maturity", positive=True)
    r = as_array(rate, "rate")
    v = as_array(vol, "vol", positive=True)
    q = as_array(dividend, "dividend")
    return np.broadcast_arrays(s, k, t, r, v, q)


def _d1_d2(s, k, t, r, v, q):
    sd = v * np.sqrt(t)
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / sd
    return d1, d1 - sd


def bs_price(spot: Any, strike: Any, maturity: Any, rate: Any, vol: Any, kind: Any = "call",
             dividend: Any = 0.0) -> Any:
    """Black–Scholes price of a European call or put.

    Parameters
    ----------
    spot, strike : > 0.
    maturity : years to expiry, > 0 (0 is refused: the price is then the payoff, not a model output).
    rate : continuously compounded risk-free rate per year.
    vol : volatility per sqrt(year), > 0.
    kind : "call" or "put" (or an array of them).
    dividend : continuous dividend yield per year.

    Returns
    -------
    float or float64 array of the broadcast shape.
    """
    s, k, t, r, v, q = _inputs(spot, strike, maturity, rate, vol, dividend)
    is_call = check_kind(kind)
    d1, d2 = _d1_d2(s, k, t, r, v, q)
    fs, dk = s * np.exp(-q * t), k * np.exp(-r * t)
    call = fs * ndtr(d1) - dk * ndtr(d2)
    put = dk * ndtr(-d2) - fs * ndtr(-d1)
    return _out(np.where(is_call, call, put))


def bs_delta(spot: Any, strike: Any, maturity: Any, rate: Any, vol: Any, kind: Any = "call",
             dividend: Any = 0.0) -> Any:
    """dPrice/dSpot: ``e^{-qT} N(d1)`` for a call, ``e^{-qT} (N(d1) - 1)`` for a put. Arguments as :func:`bs_price`."""
    s, k, t, r, v, q = _inputs(spot, strike, maturity, rate, vol, dividend)
    is_call = check_kind(kind)
    d1, _ = _d1_d2(s, k, t, r, v, q)
    return _out(np.exp(-q * t) * np.where(is_call, ndtr(d1), ndtr(d1) - 1.0))


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def bs_gamma(spot: Any, strike: Any, maturity: Any, rate: Any, vol: Any, dividend: Any = 0.0) -> Any:
    """d2Price/dSpot2 = ``e^{-qT} n(d1) / (S vol sqrt(T))`` (same for calls and puts)."""
    s, k, t, r, v, q = _inputs(spot, strike, maturity, rate, vol, dividend)
    d1, _ = _d1_d2(s, k, t, r, v, q)
    return _out(np.exp(-q * t) * _pdf(d1) / (s * v * np.sqrt(t)))


def bs_vega(spot: Any, strike: Any, maturity: Any, rate: Any, vol: Any, dividend: Any = 0.0) -> Any:
    """dPrice/dVol = ``S e^{-qT} n(d1) sqrt(T)`` per unit of vol (same for calls and puts)."""
    s, k, t, r, v, q = _inputs(spot, strike, maturity, rate, vol, dividend)
    d1, _ = _d1_d2(s, k, t, r, v, q)
    return _out(s * np.exp(-q * t) * _pdf(d1) * np.sqrt(t))


def implied_vol(price: Any, spot: Any, strike: Any, maturity: Any, rate: Any, kind: Any = "call",
                dividend: Any = 0.0, *, low: float = 1e-6, high: float = 10.0, tol: float = 1e-12) -> Any:
    """Black–Scholes implied volatility of option prices by vectorised bisection on [low, high].

    The price is strictly increasing in vol, so bisection always converges; ~60 halvings reach ``tol``.

    Parameters
    ----------
    price : option price(s); must lie strictly inside the no-arbitrage bounds
        (call: ``(S e^{-qT} - K e^{-rT})^+ < C < S e^{-qT}``; put: ``(K e^{-rT} - S e^{-qT})^+ < P < K e^{-rT}``).
    spot, strike, maturity, rate, kind, dividend : as in :func:`bs_price`.
    low, high : search bracket for the vol; a price outside the range they span is an error.
    tol : stop when the bracket is narrower than this.

    Returns
    -------
    float or float64 array.
    """
    p = as_array(price, "price")
    s, k, t, r, _, q = _inputs(spot, strike, maturity, rate, 1.0, dividend)
    is_call = check_kind(kind)
    p, s, k, t, r, q, is_call = np.broadcast_arrays(p, s, k, t, r, q, is_call)
    fs, dk = s * np.exp(-q * t), k * np.exp(-r * t)
    lower = np.where(is_call, np.maximum(fs - dk, 0.0), np.maximum(dk - fs, 0.0))
    upper = np.where(is_call, fs, dk)
    bad = ~((p > lower) & (p < upper))
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise invalid("price", f"price {p.ravel()[i]!r} at index {i} is outside the no-arbitrage bounds "
                               f"({lower.ravel()[i]!r}, {upper.ravel()[i]!r}); no implied vol exists")
    kinds = np.where(is_call, "call", "put")
    lo = np.full(p.shape, float(low))
    hi = np.full(p.shape, float(high))
    p_lo = np.asarray(bs_price(s, k, t, r, lo, kinds, q))
    p_hi = np.asarray(bs_price(s, k, t, r, hi, kinds, q))
    out_of_range = (p < p_lo) | (p > p_hi)
    if out_of_range.any():
        i = np.flatnonzero(out_of_range.ravel())[0]
        raise invalid("price", f"price {p.ravel()[i]!r} at index {i} implies a vol outside [{low}, {high}]")
    while np.max(hi - lo) > tol:
        mid = 0.5 * (lo + hi)
        above = np.asarray(bs_price(s, k, t, r, mid, kinds, q)) > p
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return _out(0.5 * (lo + hi))
