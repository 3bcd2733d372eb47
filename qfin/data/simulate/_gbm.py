"""Geometric Brownian motion, stepped exactly in log space."""

from __future__ import annotations

import numpy as np

from ._common import Seed, count, non_negative, paths_from_log_increments, positive, real, rng

__all__ = ["gbm"]


def gbm(s0: float, mu: float, sigma: float, maturity: float, n_steps: int, n_paths: int,
        seed: Seed = None) -> np.ndarray:
    """Simulate geometric Brownian motion ``dS = mu S dt + sigma S dW``.

    Each step uses the exact solution (Black & Scholes 1973; Glasserman, *Monte Carlo Methods in Financial
    Engineering*, 2003, eq. 3.2):
    ``S(t+dt) = S(t) exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z)``, ``Z ~ N(0, 1)``, ``dt = maturity / n_steps``,
    so there is no discretisation error: ``E[S_T] = s0 exp(mu T)`` and
    ``log S_T ~ N(log s0 + (mu - sigma^2/2) T, sigma^2 T)``.

    Parameters
    ----------
    s0 : float
        Initial price, > 0.
    mu : float
        Drift per year (continuously compounded), e.g. 0.05.
    sigma : float
        Volatility per sqrt(year), >= 0.
    maturity : float
        Horizon in years, > 0.
    n_steps : int
        Number of time steps, >= 1.
    n_paths : int
        Number of independent paths, >= 1.
    seed : int, numpy.random.Generator or None
        Source of randomness; the same int gives the same paths.

    Returns
    -------
    numpy.ndarray
        float64 prices of shape ``[n_paths, n_steps + 1]``; column 0 equals ``s0``.
    """
    s0 = positive(s0, "s0")
    mu = real(mu, "mu")
    sigma = non_negative(sigma, "sigma")
    maturity = positive(maturity, "maturity")
    n_steps = count(n_steps, "n_steps")
    n_paths = count(n_paths, "n_paths")
    gen = rng(seed)

    dt = maturity / n_steps
    increments = gen.standard_normal((n_paths, n_steps))
    increments *= sigma * np.sqrt(dt)
    increments += (mu - 0.5 * sigma * sigma) * dt
    return paths_from_log_increments(s0, increments)
