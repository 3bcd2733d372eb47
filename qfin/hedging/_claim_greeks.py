"""Black–Scholes value, delta, gamma and vega of a claim along every path: what the classical hedges of a
path-dependent claim need.

At zero rate and a constant ``vol``, on each decision date t_i of each path, given the claim's state so far:

- vanilla and spreads: the closed forms (a spread is a difference of two vanillas);
- barrier options (knock-out; knock-in = vanilla - knock-out, rebate 0): the reflection formula for a zero-rate
  GBM, V(S) = G(S) - (S / H) G(H^2 / S), G the price of the payoff cut at the barrier, with the barrier shifted
  by e^{+-0.5826 vol sqrt(dt)} for discrete monitoring (Broadie, Glasserman & Kou 1997, Math. Finance 7(4));
  delta and gamma by central differences of the closed form, vega by a central difference in vol;
- arithmetic Asian and fixed-strike lookback options: Monte Carlo over the future. The future enters through one
  scalar per date, Q = sum_{j>i} S_j / S_i (Asian) or R = max_{j>=i} S_j / S_i (lookback), whose law does not
  depend on the path; per date ``n_inner`` samples are drawn once, sorted, and every path's value and pathwise
  delta (E[Q/n 1{exercise}], E[R 1{exercise}]) are read off with one binary search. Gamma is a central difference
  of the delta (bump 1% of spot), vega a central difference in vol on the same normals.

:func:`claim_greeks` returns the three arrays [n_paths, n_steps] or raises a one-line error naming the claims it
covers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from ..data.simulate._payoffs import AsianOption, BarrierOption, LookbackOption, Spread, Vanilla
from ..errors import QfinError
from ._black_scholes import bs_delta, bs_gamma, bs_vega

__all__ = ["SUPPORTED", "barrier_value", "claim_greeks"]

SUPPORTED = ("Vanilla", "Spread", "BarrierOption (rebate 0)", "AsianOption (arithmetic)",
             "LookbackOption (fixed strike)")
BGK = 0.5826  # -zeta(1/2) / sqrt(2 pi)


def _call(s: np.ndarray, k: float, tau: float, vol: float) -> np.ndarray:
    sd = vol * np.sqrt(tau)
    d1 = (np.log(s / k) + 0.5 * sd * sd) / sd
    return s * ndtr(d1) - k * ndtr(d1 - sd)


def _put(s: np.ndarray, k: float, tau: float, vol: float) -> np.ndarray:
    return _call(s, k, tau, vol) - s + k


def _digital(s: np.ndarray, h: float, tau: float, vol: float, above: bool) -> np.ndarray:
    sd = vol * np.sqrt(tau)
    d2 = (np.log(s / h) - 0.5 * sd * sd) / sd
    return ndtr(d2) if above else ndtr(-d2)


def _cut(s: np.ndarray, claim: BarrierOption, h: float, tau: float, vol: float) -> np.ndarray:
    """G(s): the European price of the vanilla payoff times 1{S_T on the barrier's alive side}."""
    k = claim.strike
    if claim.kind == "call":
        if claim.direction == "up":  # alive below h
            if k >= h:
                return np.zeros_like(s)
            return _call(s, k, tau, vol) - _call(s, h, tau, vol) - (h - k) * _digital(s, h, tau, vol, True)
        if k >= h:
            return _call(s, k, tau, vol)
        return _call(s, h, tau, vol) + (h - k) * _digital(s, h, tau, vol, True)
    if claim.direction == "up":
        if k <= h:
            return _put(s, k, tau, vol)
        return _put(s, h, tau, vol) + (k - h) * _digital(s, h, tau, vol, False)
    if k <= h:
        return np.zeros_like(s)
    return _put(s, k, tau, vol) - _put(s, h, tau, vol) - (k - h) * _digital(s, h, tau, vol, False)


def barrier_value(claim: BarrierOption, spot: Any, tau: float, vol: float, dt: float = 0.0) -> np.ndarray:
    """Zero-rate Black–Scholes value of a barrier option not yet knocked, ``dt`` the monitoring interval
    (0: continuous monitoring; else the BGK-shifted barrier)."""
    s = np.asarray(spot, dtype=np.float64)
    shift = np.exp(BGK * vol * np.sqrt(dt))
    h = claim.barrier * shift if claim.direction == "up" else claim.barrier / shift
    alive = s < h if claim.direction == "up" else s > h
    out_value = np.where(alive, _cut(s, claim, h, tau, vol) - (s / h) * _cut(h * h / s, claim, h, tau, vol), 0.0)
    if claim.knock == "out":
        return out_value
    vanilla = _call(s, claim.strike, tau, vol) if claim.kind == "call" else _put(s, claim.strike, tau, vol)
    return vanilla - out_value


def _vanilla(spot: np.ndarray, strike: float, tau: np.ndarray, vol: float, kind: str) -> tuple[np.ndarray, ...]:
    delta = np.asarray(bs_delta(spot, strike, tau, 0.0, vol, kind))
    return delta, np.asarray(bs_gamma(spot, strike, tau, 0.0, vol)), np.asarray(bs_vega(spot, strike, tau, 0.0, vol))


def _barrier(claim: BarrierOption, spot: np.ndarray, tau: np.ndarray, vol: float, dt: float) -> tuple[np.ndarray, ...]:
    s = spot[:, :-1]
    touched = s >= claim.barrier if claim.direction == "up" else s <= claim.barrier
    hit = np.maximum.accumulate(touched, axis=1)
    delta, gamma, vega = (np.zeros_like(s) for _ in range(3))
    bump, dv = 0.005, 1e-3
    for i in range(s.shape[1]):
        x, t = s[:, i], float(tau[i])
        up, mid, dn = (barrier_value(claim, x * f, t, vol, dt) for f in (1 + bump, 1.0, 1 - bump))
        d = (up - dn) / (2 * bump * x)
        g = (up - 2 * mid + dn) / (bump * x) ** 2
        v = (barrier_value(claim, x, t, vol + dv, dt) - barrier_value(claim, x, t, vol - dv, dt)) / (2 * dv)
        if claim.knock == "out":
            dead = hit[:, i]
            delta[:, i], gamma[:, i], vega[:, i] = (np.where(dead, 0.0, a) for a in (d, g, v))
        else:  # knocked in: the vanilla
            vd, vg, vv = _vanilla(x, claim.strike, t, vol, claim.kind)
            done = hit[:, i]
            delta[:, i], gamma[:, i], vega[:, i] = (np.where(done, b, a) for a, b in ((d, vd), (g, vg), (v, vv)))
    return delta, gamma, vega


def _future_samples(kind: str, n_left: int, vol: float, dt: float, z: np.ndarray) -> np.ndarray:
    """Q (sum of the next ``n_left`` ratios S_j / S_i) or R (max of 1 and them) from normals z [n_inner, n_left]."""
    log_ratio = np.cumsum(vol * np.sqrt(dt) * z - 0.5 * vol * vol * dt, axis=1)
    ratios = np.exp(log_ratio)
    return ratios.sum(axis=1) if kind == "asian" else np.maximum(ratios.max(axis=1), 1.0)


def _sorted_tail(samples: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fraction of samples above ``threshold``, mean of samples * 1{above}) for every threshold at once."""
    srt = np.sort(samples)
    tail = np.concatenate([np.cumsum(srt[::-1])[::-1], [0.0]]) / srt.size
    pos = np.searchsorted(srt, threshold, side="right")
    return (srt.size - pos) / srt.size, tail[pos]


def _mc_value_delta(kind: str, claim: Any, samples: np.ndarray, s: np.ndarray, state: np.ndarray,
                    n_fix: int) -> tuple[np.ndarray, np.ndarray]:
    k = claim.strike
    if kind == "asian":  # V = E[((A + S Q) / n - K)^+], A the sum of the fixings so far
        q_star = (n_fix * k - state) / s
        frac, tail = _sorted_tail(samples, q_star)
        value = (state / n_fix - k) * frac + s / n_fix * tail
        return value, tail / n_fix
    # lookback call: V = E[max(M, S R, K)] - K
    level = np.maximum(state, k)
    frac, tail = _sorted_tail(samples, level / s)
    return s * tail + (1.0 - frac) * level - k, tail


def _monte_carlo(claim: Any, kind: str, spot: np.ndarray, vol: float, dt: float, n_inner: int,
                 seed: int) -> tuple[np.ndarray, ...]:
    s = spot[:, :-1]
    n_paths, n_steps = s.shape
    if kind == "asian":
        sums = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(s[:, 1:], axis=1)], axis=1)
        state = sums  # fixings S_1 .. S_i known at t_i
    else:
        state = np.maximum.accumulate(s, axis=1)
    rng = np.random.default_rng(seed)
    delta, gamma, vega = (np.zeros_like(s) for _ in range(3))
    bump, dv = 0.01, 0.01
    for i in range(n_steps):
        z = rng.standard_normal((n_inner, n_steps - i))
        base = _future_samples(kind, n_steps - i, vol, dt, z)
        x, st = s[:, i], state[:, i]
        _, delta[:, i] = _mc_value_delta(kind, claim, base, x, st, n_steps)
        _, d_up = _mc_value_delta(kind, claim, base, x * (1 + bump), st, n_steps)
        _, d_dn = _mc_value_delta(kind, claim, base, x * (1 - bump), st, n_steps)
        gamma[:, i] = (d_up - d_dn) / (2 * bump * x)
        v_up, _ = _mc_value_delta(kind, claim, _future_samples(kind, n_steps - i, vol + dv, dt, z), x, st, n_steps)
        v_dn, _ = _mc_value_delta(kind, claim, _future_samples(kind, n_steps - i, vol - dv, dt, z), x, st, n_steps)
        vega[:, i] = (v_up - v_dn) / (2 * dv)
    return delta, gamma, vega


def claim_greeks(claim: Any, spot: np.ndarray, maturity: float, vol: float, n_inner: int = 8192,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(delta, gamma, vega) [n_paths, n_steps] of ``claim`` on each path's decision dates under Black–Scholes at
    ``vol`` (zero rate), from each path's data up to that date only."""
    spot = np.asarray(spot, dtype=np.float64)
    n_steps = spot.shape[1] - 1
    dt = maturity / n_steps
    tau = maturity * (1.0 - np.arange(n_steps) / n_steps)
    s = spot[:, :-1]
    if isinstance(claim, Vanilla):
        return _vanilla(s, claim.strike, tau[None, :], vol, claim.kind)
    if isinstance(claim, Spread):
        long_k, short_k = (claim.low, claim.high) if claim.kind == "call" else (claim.high, claim.low)
        a = _vanilla(s, long_k, tau[None, :], vol, claim.kind)
        b = _vanilla(s, short_k, tau[None, :], vol, claim.kind)
        return tuple(x - y for x, y in zip(a, b, strict=True))
    if isinstance(claim, BarrierOption) and claim.rebate == 0:
        return _barrier(claim, spot, tau, vol, dt)
    if isinstance(claim, AsianOption) and claim.average == "arithmetic" and claim.kind == "call":
        return _monte_carlo(claim, "asian", spot, vol, dt, n_inner, seed)
    if isinstance(claim, LookbackOption) and claim.strike is not None and claim.kind == "call":
        return _monte_carlo(claim, "lookback", spot, vol, dt, n_inner, seed)
    raise QfinError(f"no Black–Scholes delta for {claim!r}; covered: {', '.join(SUPPORTED)} (calls for the Asian "
                    "and lookback)")
