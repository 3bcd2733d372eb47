"""Synthetic daily K-lines (OHLCV bars) from GARCH, Heston, regime-switching and jump models.

Each bar is built from ``substeps`` simulated log-price increments inside it, so the high and the low are the
extremes of a real intrabar path and the range carries the bar's volatility the way it does in markets:
``open = previous close x exp(overnight gap)``, ``high / low`` = the max / min over the open and the sub-step
prices, ``close`` = the last sub-step. The daily variance ``h_t`` of a bar comes from the model; a fraction
``gap_share`` of it falls overnight. Volume has its own clustering: ``log v_t`` is AR(1) around a level plus a
response to the bar's standardised absolute return.

Parameter ranges (:data:`KLINE_PARAM_RANGES`) bracket GJR-GARCH(1,1)-t fits (``arch`` 8.0.0) of the train spans
(to 2012-12-31) of the shipped sp500_index, nasdaq_index and msft bars: omega 1.2e-6 .. 2.1e-6, alpha 0 .. 0.05,
gamma 0.03 .. 0.14, beta 0.92 .. 0.94, t degrees of freedom 5.3 .. 15.7, overnight share of the variance 0.01 ..
0.23, daily return std 0.013 .. 0.024, AR(1) of log volume 0.64 .. 0.96, corr(change in log volume, |r|) 0.03 ..
0.16. Each path draws its own parameters from those ranges, widened a little, so a corpus spans calm indices and
volatile single stocks.
"""

from __future__ import annotations

import numpy as np

from ._common import Seed, count, invalid, positive
from ._common import rng as make_rng

KLINE_MODELS = ("garch", "heston", "regime", "jump")

KLINE_PARAM_RANGES = {
    "annual_vol": (0.10, 0.50), "alpha": (0.0, 0.08), "gamma": (0.0, 0.16), "persistence": (0.95, 0.995),
    "nu": (5.0, 16.0), "gap_share": (0.0, 0.25), "drift": (-0.0002, 0.0008), "log_volume_level": (12.0, 22.0),
    "volume_ar": (0.6, 0.97), "volume_response": (0.02, 0.2), "volume_noise": (0.1, 0.35),
    "heston_kappa": (1.0, 8.0), "heston_xi": (0.3, 1.0), "heston_rho": (-0.85, -0.3),
    "regime_ratio": (1.8, 4.0), "regime_stay": (0.97, 0.995), "jump_rate": (0.005, 0.05),
    "jump_mean": (-0.03, 0.0), "jump_std": (0.01, 0.05),
}
"""``(low, high)`` of every parameter a path draws (uniform), daily units unless named annual."""


def _check(n_paths, n_bars, substeps, model, s0) -> None:
    count(n_paths, "n_paths")
    count(n_bars, "n_bars", 2)
    count(substeps, "substeps")
    if s0 is not None:
        positive(s0, "s0")
    if model not in KLINE_MODELS:
        raise invalid("model", f"unknown K-line model {model!r}; accepted: {list(KLINE_MODELS)}")


def draw_kline_params(n_paths: int, seed: Seed = None) -> dict[str, np.ndarray]:
    """One parameter set per path, uniform on :data:`KLINE_PARAM_RANGES` (arrays of length ``n_paths``)."""
    rng = make_rng(seed)
    return {k: rng.uniform(lo, hi, n_paths) for k, (lo, hi) in KLINE_PARAM_RANGES.items()}


def simulate_klines(n_paths: int, n_bars: int, model: str = "garch", substeps: int = 16, seed: Seed = None,
                    s0: float | None = None) -> np.ndarray:
    """``n_paths`` synthetic daily K-lines of ``n_bars`` bars: float64 ``[n_paths, n_bars, 5]`` (open, high, low,
    close, volume), valid OHLCV bars (``low <= min(open, close) <= max(open, close) <= high``, volume > 0).

    ``model``: ``"garch"`` (GJR-GARCH(1,1), Student-t bar shocks, leverage), ``"heston"`` (square-root variance
    stepped with the sub-steps, correlated with the price), ``"regime"`` (two-state Markov volatility with
    GARCH inside each regime) or ``"jump"`` (GJR-GARCH plus Merton jumps at sub-steps). Every path draws its own
    parameters (:func:`draw_kline_params`); ``s0`` (default log-uniform 10 .. 1000) is the first open. The same
    ``seed`` gives the same bars.
    """
    _check(n_paths, n_bars, substeps, model, s0)
    rng = make_rng(seed)
    p = draw_kline_params(n_paths, rng)
    m = int(substeps)
    var_bar = (p["annual_vol"] ** 2) / 252.0  # unconditional daily variance
    alpha = p["alpha"]
    gamma = p["gamma"]
    beta = np.clip(p["persistence"] - alpha - gamma / 2, 0.0, None)
    omega = var_bar * (1 - p["persistence"])
    nu = p["nu"]
    start = np.exp(rng.uniform(np.log(10.0), np.log(1000.0), n_paths)) if s0 is None else np.full(n_paths, s0)
    # regime chain: state 1 is turbulent, its variance ratio x calm; calm chosen so the mix keeps var_bar
    stay = p["regime_stay"]
    ratio = p["regime_ratio"]
    calm_scale = 1.0 / (0.75 + 0.25 * ratio)  # long-run shares 3:1 calm:turbulent (leave rate 3x slower)
    regime = np.zeros(n_paths, dtype=np.int64)
    # heston variance (daily units), mean var_bar
    kappa = p["heston_kappa"] / 252.0
    xi = p["heston_xi"] / 252.0
    rho = p["heston_rho"]
    v = var_bar.copy()
    h = var_bar.copy()
    out = np.empty((n_paths, n_bars, 5))
    prev_close = start.copy()
    log_v = p["log_volume_level"].copy()
    for t in range(n_bars):
        if model == "heston":
            dt = 1.0 / m
            zv = rng.standard_normal((n_paths, m))
            zs = rho[:, None] * zv + np.sqrt(1 - rho[:, None] ** 2) * rng.standard_normal((n_paths, m))
            steps = np.empty((n_paths, m))
            for k in range(m):
                vp = np.maximum(v, 1e-10)
                steps[:, k] = np.sqrt(vp * dt) * zs[:, k] - 0.5 * vp * dt
                v = v + kappa * (var_bar - vp) * dt + xi * np.sqrt(vp * dt) * zv[:, k]
            bar_var = np.maximum(steps.var(axis=1) * m, 1e-12)
            gap = np.sqrt(p["gap_share"] * bar_var) * rng.standard_normal(n_paths)
            steps = steps * np.sqrt(1 - p["gap_share"])[:, None]
        else:
            factor = np.ones(n_paths)
            if model == "regime":
                leave = np.where(regime == 0, (1 - stay) / 3, 1 - stay)
                regime = np.where(rng.random(n_paths) < leave, 1 - regime, regime)
                factor = calm_scale * np.where(regime == 1, ratio, 1.0)
            scale_h = h * factor
            # a Student-t bar shock: normal sub-steps scaled by one chi-square mixing draw per bar
            mix = np.sqrt((nu - 2) / rng.chisquare(nu))
            gap = np.sqrt(p["gap_share"] * scale_h) * mix * rng.standard_normal(n_paths)
            steps = (np.sqrt((1 - p["gap_share"]) * scale_h / m) * mix)[:, None] * rng.standard_normal((n_paths, m))
            if model == "jump":
                jumps = rng.random((n_paths, m)) < (p["jump_rate"] / m)[:, None]
                sizes = p["jump_mean"][:, None] + p["jump_std"][:, None] * rng.standard_normal((n_paths, m))
                steps = steps + jumps * sizes
            steps = steps - (0.5 * scale_h / m)[:, None]
        steps = steps + (p["drift"] / m)[:, None]
        open_ = prev_close * np.exp(gap)
        path = open_[:, None] * np.exp(np.cumsum(steps, axis=1))
        close = path[:, -1]
        r = np.log(close / prev_close)
        if model != "heston":
            eps = (r - p["drift"]) / np.sqrt(factor)
            h = omega + (alpha + gamma * (eps < 0)) * eps ** 2 + beta * h
            h = np.minimum(h, 25 * var_bar)  # keep draws at the persistence edge from exploding
        std_abs = np.abs(r) / np.sqrt(var_bar) - np.sqrt(2 / np.pi)
        log_v = (p["log_volume_level"] + p["volume_ar"] * (log_v - p["log_volume_level"])
                 + p["volume_response"] * std_abs + p["volume_noise"] * rng.standard_normal(n_paths))
        out[:, t, 0] = open_
        out[:, t, 1] = np.maximum(path.max(axis=1), open_)
        out[:, t, 2] = np.minimum(path.min(axis=1), open_)
        out[:, t, 3] = close
        out[:, t, 4] = np.exp(log_v)
        prev_close = close
    return out
