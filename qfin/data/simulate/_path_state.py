"""The path state a claim's payoff depends on, as causal features of the deep hedger and of HedgingEnv.

A path-dependent claim's value at t_i depends on more than (S_i, v_i, tau_i): a lookback on the running maximum
or minimum, an Asian option on the running average of its fixings, a barrier option on whether the barrier was
touched. :func:`state_features` returns that state on every decision date t_0 .. t_{n-1}, computed from
``spot[:, :i + 1]`` only (running maxima by ``np.maximum.accumulate``, averages by cumulative sums), in the
hedger's scale: logs of levels against the reference strike over ``scale`` = sqrt(theta T), flags as 0/1.
A vanilla, a spread, a digital or a user's callable adds nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._payoffs import AsianOption, BarrierOption, Digital, LookbackOption, Spread, Vanilla

__all__ = ["n_state_features", "reference_strike", "state_features"]


def reference_strike(claim: Any, s0: float) -> float:
    """The level moneyness is measured against: the claim's strike (a spread's mid-point; today's spot for a
    floating lookback or a user's callable)."""
    if isinstance(claim, Spread):
        return 0.5 * (claim.low + claim.high)
    strike = getattr(claim, "strike", None) if isinstance(
        claim, (Vanilla, Digital, AsianOption, LookbackOption, BarrierOption)) else None
    return float(s0 if strike is None else strike)


def n_state_features(claim: Any) -> int:
    """How many columns :func:`state_features` returns for ``claim``."""
    if isinstance(claim, LookbackOption):
        return 2
    if isinstance(claim, (AsianOption, BarrierOption)):
        return 2
    return 0


def state_features(claim: Any, spot: np.ndarray, strike: float, scale: float) -> np.ndarray:
    """[n_paths, n_steps, k] float64 features of the claim's path state on the decision dates (k may be 0).

    - lookback: log(M_i / K) and log(m_i / K) over ``scale`` (running max and min of S_0 .. S_i);
    - Asian: log(A_i / K) / scale, A_i the mean of the fixings S_1 .. S_i so far (S_0 before the first), and the
      fraction i / n of fixings already known;
    - barrier: 1 if the barrier was touched at some t_0 .. t_i, and log(B / S_i) / scale (the distance to it).
    """
    s = np.asarray(spot, dtype=np.float64)[:, :-1]  # the decision dates t_0 .. t_{n-1}
    n_paths, n_steps = s.shape
    if isinstance(claim, LookbackOption):
        high, low = np.maximum.accumulate(s, axis=1), np.minimum.accumulate(s, axis=1)
        return np.stack([np.log(high / strike) / scale, np.log(low / strike) / scale], axis=2)
    if isinstance(claim, AsianOption):
        # fixings are S_1 .. S_n; at t_i the known ones are S_1 .. S_i (none at t_0)
        known = np.arange(n_steps)
        if claim.average == "arithmetic":
            sums = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(s[:, 1:], axis=1)], axis=1)
            mean = np.where(known > 0, sums / np.maximum(known, 1), s[:, :1])
        else:
            logs = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(np.log(s[:, 1:]), axis=1)], axis=1)
            mean = np.where(known > 0, np.exp(logs / np.maximum(known, 1)), s[:, :1])
        fraction = np.broadcast_to(known / n_steps, (n_paths, n_steps))
        return np.stack([np.log(mean / strike) / scale, fraction], axis=2)
    if isinstance(claim, BarrierOption):
        touched = s >= claim.barrier if claim.direction == "up" else s <= claim.barrier
        hit = np.maximum.accumulate(touched, axis=1).astype(np.float64)
        return np.stack([hit, np.log(claim.barrier / s) / scale], axis=2)
    return np.zeros((n_paths, n_steps, 0))
