"""Numba-compiled scalar loops behind :class:`PortfolioEnv` and the batched portfolio simulator.

One step of ~20 assets is a few hundred floating-point operations; as a dozen small numpy calls it costs tens of
microseconds of call overhead, compiled it costs well under one. Everything here is a plain loop over floats,
compiled once per process (and cached on disk by numba next to this file):

- :func:`weights_from_logits`: the action mapping of :func:`qfin.envs.logits_to_weights`;
- :func:`step_one`: one rebalance-and-hold step of Jiang et al. (2017), using the backtest engine's cost model
  :func:`qfin.costs.remainder_one` compiled as it is (imported, never copied);
- :func:`env_step`: the two above for one environment step; :func:`step_batch` and :func:`simulate` run
  :func:`step_one` over many portfolios (and over time);
- :func:`fill_observation`: the price tensor of one step, normalised by each asset's last close.

The module imports numba, so only the environment modules import it (never ``import qfin``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from qfin.costs import remainder_one

__all__ = ["env_step", "fill_observation", "simulate", "step_batch", "step_one", "weights_from_logits"]

_jit = numba.njit(cache=True, nogil=True)

remainder = _jit(remainder_one)

_TOL, _MAX_ITER = 1e-14, 100  # transaction_remainder's defaults


@_jit
def weights_from_logits(a, long_only, scale, leverage, max_weight, out):
    """Write the weights of logits ``a`` (cash first) into ``out``; False if a logit is not finite.

    Long-only: ``softmax(scale * a)``, then each risky weight capped at ``max_weight`` with the excess handed to
    the uncapped entries (cash included) in proportion, repeated until nothing exceeds the cap. Long/short:
    ``u_i = leverage * a_i / sum_j |a_j|`` clipped to ``[-max_weight, max_weight]``, cash ``1 - sum u``.
    ``max_weight = inf`` means no cap.
    """
    n = a.shape[0]
    for i in range(n):
        if not math.isfinite(a[i]):
            return False
    if long_only:
        top = scale * a[0]
        for i in range(1, n):
            top = max(top, scale * a[i])
        total = 0.0
        for i in range(n):
            out[i] = math.exp(scale * a[i] - top)
            total += out[i]
        for i in range(n):
            out[i] /= total
        for _ in range(n):
            excess = 0.0
            for i in range(1, n):
                if out[i] > max_weight:
                    excess += out[i] - max_weight
                    out[i] = max_weight
            if excess == 0.0:
                break
            free = out[0]
            for i in range(1, n):
                if out[i] < max_weight:
                    free += out[i]
            share = excess / free
            out[0] += share * out[0]
            for i in range(1, n):
                if out[i] < max_weight:
                    out[i] += share * out[i]
        return True
    gross = 0.0
    for i in range(n):
        gross += abs(a[i])
    invested = 0.0
    for i in range(1, n):
        u = leverage * a[i] / gross if gross > 0.0 else 0.0
        u = min(max(u, -max_weight), max_weight)
        out[i] = u
        invested += u
    out[0] = 1.0 - invested
    return True


@_jit
def step_one(value, drifted, target, relatives, c_p, c_s, exact, new_drifted):
    """Rebalance from ``drifted`` to ``target`` (transaction remainder mu), hold over one period of price
    relatives ``relatives`` (cash first, 1). Writes the drifted weights at t + 1 into ``new_drifted`` and returns
    (V_{t+1}, growth mu * (w . y), mu, turnover sum_i>0 |w_i - w'_i|)."""
    mu = remainder(drifted, target, c_p, c_s, exact, _TOL, _MAX_ITER)
    n = target.shape[0]
    gross = 0.0
    turnover = 0.0
    for i in range(n):
        held = target[i] * relatives[i]
        new_drifted[i] = held
        gross += held
        if i > 0:
            turnover += abs(target[i] - drifted[i])
    for i in range(n):
        new_drifted[i] /= gross
    growth = mu * gross
    return value * growth, growth, mu, turnover


@_jit
def env_step(logits, drifted, relatives, value, long_only, scale, leverage, max_weight, c_p, c_s, exact,
             target, new_drifted):
    """One :class:`PortfolioEnv` step: logits to ``target`` weights, then :func:`step_one`. Returns
    (ok, V_{t+1}, growth, mu, turnover); ok is False (and nothing else meaningful) for a non-finite logit."""
    if not weights_from_logits(logits, long_only, scale, leverage, max_weight, target):
        return False, value, 1.0, 1.0, 0.0
    v, growth, mu, turnover = step_one(value, drifted, target, relatives, c_p, c_s, exact, new_drifted)
    return True, v, growth, mu, turnover


@_jit
def step_batch(value, drifted, target, relatives, c_p, c_s, exact, out_value, out_growth, out_mu, out_drifted,
               out_turnover):
    """:func:`step_one` for each row of [B, N + 1] arrays (``value`` [B])."""
    for b in range(target.shape[0]):
        v, g, m, turn = step_one(value[b], drifted[b], target[b], relatives[b], c_p, c_s, exact, out_drifted[b])
        out_value[b], out_growth[b], out_mu[b], out_turnover[b] = v, g, m, turn


@_jit
def simulate(prices, weights, c_p, c_s, exact, initial_value, values):
    """Value paths: ``prices`` [P, T + 1, N] (P is 1 or B), ``weights`` [B, T, N + 1]; fills ``values`` [B, T + 1]
    starting all in cash at ``initial_value``."""
    n_batch, n_steps, n_w = weights.shape
    drifted = np.empty(n_w)
    new_drifted = np.empty(n_w)
    relatives = np.empty(n_w)
    relatives[0] = 1.0
    for b in range(n_batch):
        p = 0 if prices.shape[0] == 1 else b
        drifted[:] = 0.0
        drifted[0] = 1.0
        v = initial_value
        values[b, 0] = v
        for t in range(n_steps):
            for i in range(1, n_w):
                relatives[i] = prices[p, t + 1, i - 1] / prices[p, t, i - 1]
            v, _, _, _ = step_one(v, drifted, weights[b, t], relatives, c_p, c_s, exact, new_drifted)
            values[b, t + 1] = v
            drifted, new_drifted = new_drifted, drifted


@_jit
def fill_observation(panel, t, window, out):
    """``out[f, n, k] = panel[f, n, t - window + 1 + k] / panel[0, n, t]`` (float64 division, stored as
    ``out``'s dtype): the last ``window`` bars up to t, each asset divided by its close at t."""
    n_features, n_assets = panel.shape[0], panel.shape[1]
    first = t - window + 1
    for n in range(n_assets):
        last_close = panel[0, n, t]
        for f in range(n_features):
            for k in range(window):
                out[f, n, k] = panel[f, n, first + k] / last_close
