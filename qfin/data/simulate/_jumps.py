"""Merton (1976) jump-diffusion, stepped exactly."""

from __future__ import annotations

import numpy as np

from ._common import Seed, count, non_negative, paths_from_log_increments, positive, real, rng

__all__ = ["merton_jump"]


def merton_jump(s0: float, mu: float, sigma: float, jump_intensity: float, jump_mean: float, jump_std: float,
                maturity: float, n_steps: int, n_paths: int, seed: Seed = None) -> np.ndarray:
    """Simulate Merton's jump-diffusion ``dS/S- = (mu - lambda k) dt + sigma dW + (J - 1) dN``.

    R. C. Merton, "Option pricing when underlying stock returns are discontinuous", *Journal of Financial
    Economics* 3, 1976, eq. 2: ``N`` is Poisson with intensity ``lambda``, ``log J ~ N(jump_mean, jump_std^2)``
    and the compensator ``k = E[J - 1] = exp(jump_mean + jump_std^2 / 2) - 1`` makes ``E[S_T] = s0 exp(mu T)``.
    Each step is exact (Glasserman 2003, §3.5.1)::

        log S(t+dt) - log S(t) = (mu - lambda k - sigma^2/2) dt + sigma sqrt(dt) Z
                                 + n jump_mean + jump_std sqrt(n) Z',   n ~ Poisson(lambda dt)

    so ``Var[log S_T] = sigma^2 T + lambda T (jump_mean^2 + jump_std^2)``.

    Parameters
    ----------
    s0 : float
        Initial price, > 0.
    mu : float
        Expected return per year (continuously compounded), jumps included.
    sigma : float
        Diffusion volatility per sqrt(year), >= 0.
    jump_intensity : float
        Expected number of jumps per year (lambda), >= 0.
    jump_mean : float
        Mean of the log jump size.
    jump_std : float
        Standard deviation of the log jump size, >= 0.
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
        float64 prices ``[n_paths, n_steps + 1]``; column 0 equals ``s0``.
    """
    s0 = positive(s0, "s0")
    mu = real(mu, "mu")
    sigma = non_negative(sigma, "sigma")
    lam = non_negative(jump_intensity, "jump_intensity")
    jump_mean = real(jump_mean, "jump_mean")
    jump_std = non_negative(jump_std, "jump_std")
    maturity = positive(maturity, "maturity")
    n_steps = count(n_steps, "n_steps")
    n_paths = count(n_paths, "n_paths")
    gen = rng(seed)

    dt = maturity / n_steps
    k = np.expm1(jump_mean + 0.5 * jump_std ** 2)
    shape = (n_paths, n_steps)
    increments = gen.standard_normal(shape)
    increments *= sigma * np.sqrt(dt)
    increments += (mu - lam * k - 0.5 * sigma ** 2) * dt
    n_jumps = gen.poisson(lam * dt, shape)
    increments += n_jumps * jump_mean + jump_std * np.sqrt(n_jumps) * gen.standard_normal(shape)
    return paths_from_log_increments(s0, increments)
