"""GARCH(1,1) returns with normal or standardised Student-t innovations (Bollerslev 1986)."""

from __future__ import annotations

import numpy as np

from ._common import Seed, count, invalid, non_negative, paths_from_log_increments, positive, real, rng

__all__ = ["garch"]


def garch(n_paths: int, n_steps: int, omega: float, alpha: float, beta: float, mu: float = 0.0,
          s0: float = 1.0, seed: Seed = None, return_variance: bool = False, innovations: str = "normal",
          nu: float | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Simulate GARCH(1,1) per-period log-returns and the prices they compound to.

    T. Bollerslev, "Generalized autoregressive conditional heteroskedasticity", *Journal of Econometrics*
    31, 1986, eq. 5 with p = q = 1::

        r_t = mu + sqrt(h_t) z_t,      h_t = omega + alpha (r_{t-1} - mu)^2 + beta h_{t-1}

    for t = 1 .. n_steps, started at the unconditional variance ``h_1 = omega / (1 - alpha - beta)``, so
    ``E[h_t] = E[(r_t - mu)^2] = omega / (1 - alpha - beta)`` at every t (no burn-in needed). The ``r_t``
    are log-returns: prices are ``s0 * exp(cumsum(r))``. The bar length is whatever ``omega`` and ``mu`` are
    quoted in (e.g. daily).

    Parameters
    ----------
    n_paths : int
        Number of independent paths, >= 1.
    n_steps : int
        Number of returns per path, >= 1.
    omega : float
        Constant of the variance equation, > 0 (per-period variance units).
    alpha : float
        ARCH coefficient, >= 0.
    beta : float
        GARCH coefficient, >= 0; ``alpha + beta < 1`` (covariance stationarity) is required.
    mu : float, default 0.0
        Mean per-period log-return.
    s0 : float, default 1.0
        Initial price, > 0.
    seed : int, numpy.random.Generator or None
        Source of randomness; the same int gives the same paths.
    return_variance : bool, default False
        Also return the conditional variances.
    innovations : {"normal", "t"}, default "normal"
        Distribution of ``z_t``: standard normal, or Student-t with ``nu`` degrees of freedom scaled by
        ``sqrt((nu - 2) / nu)`` to unit variance (Bollerslev 1987).
    nu : float, optional
        Degrees of freedom for ``innovations="t"``, > 2 (required there, not accepted otherwise).

    Returns
    -------
    prices : numpy.ndarray
        float64 ``[n_paths, n_steps + 1]``, column 0 equals ``s0``; ``log(prices[:, t+1] / prices[:, t]) = r_{t+1}``.
    variances : numpy.ndarray, only with ``return_variance=True``
        float64 ``[n_paths, n_steps + 1]``: column t is ``h_{t+1}``, the conditional variance of the return
        from price column t to t + 1, known at time t (the last column is the one-step-ahead forecast).
    """
    n_paths = count(n_paths, "n_paths")
    n_steps = count(n_steps, "n_steps")
    omega = positive(omega, "omega")
    alpha = non_negative(alpha, "alpha")
    beta = non_negative(beta, "beta")
    if alpha + beta >= 1.0:
        raise invalid("alpha", f"alpha + beta must be < 1 for a finite unconditional variance, got "
                               f"alpha={alpha!r} + beta={beta!r} = {alpha + beta!r}")
    mu = real(mu, "mu")
    s0 = positive(s0, "s0")
    if innovations not in ("normal", "t"):
        raise invalid("innovations", f"must be 'normal' or 't', got {innovations!r}")
    if innovations == "t":
        if nu is None:
            raise invalid("nu", "innovations='t' needs the degrees of freedom nu > 2")
        nu = real(nu, "nu")
        if nu <= 2.0:
            raise invalid("nu", f"must be > 2 so the t innovations have a finite variance, got {nu!r}")
    elif nu is not None:
        raise invalid("nu", "only used with innovations='t'; leave it out for normal innovations")
    gen = rng(seed)

    if innovations == "normal":
        z = gen.standard_normal((n_paths, n_steps))
    else:
        z = gen.standard_t(nu, (n_paths, n_steps)) * np.sqrt((nu - 2.0) / nu)

    h = np.empty((n_paths, n_steps + 1), dtype=np.float64)
    h[:, 0] = omega / (1.0 - alpha - beta)
    shocks = np.empty((n_paths, n_steps), dtype=np.float64)
    for t in range(n_steps):  # the recursion is sequential in time, vectorised over paths
        shocks[:, t] = np.sqrt(h[:, t]) * z[:, t]
        h[:, t + 1] = omega + alpha * shocks[:, t] ** 2 + beta * h[:, t]
    prices = paths_from_log_increments(s0, shocks + mu)
    return (prices, h) if return_variance else prices
