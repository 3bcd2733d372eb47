"""Markov regime-switching geometric Brownian motion (Hamilton 1989 regimes on GBM returns)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import Seed, count, invalid, non_negative, paths_from_log_increments, positive, rng

__all__ = ["regime_switching", "stationary_distribution"]

_ROW_TOL = 1e-8


def _transition(matrix: Any) -> np.ndarray:
    try:
        p = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid("transition_matrix", "expected a square K x K array of probabilities") from None
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] < 1:
        raise invalid("transition_matrix", f"expected a square K x K array of probabilities, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0.0) or np.any(p > 1.0):
        bad = np.argwhere(~np.isfinite(p) | (p < 0.0) | (p > 1.0))[0]
        raise invalid("transition_matrix", f"entries must be probabilities in [0, 1]; entry [{bad[0]}, {bad[1]}] "
                                           f"is {p[bad[0], bad[1]]!r}")
    sums = p.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > _ROW_TOL)
    if off.size:
        raise invalid("transition_matrix", f"each row must sum to 1 (row i = probabilities of moving from regime i "
                                           f"to each regime in one step); row {off[0]} sums to {sums[off[0]]!r}")
    return p


def stationary_distribution(transition_matrix: Any) -> np.ndarray:
    """The stationary distribution ``pi`` (``pi P = pi``, ``sum(pi) = 1``) of a K-state Markov chain.

    Parameters
    ----------
    transition_matrix : array_like, shape [K, K]
        Row-stochastic: ``P[i, j]`` is the probability of moving from state i to state j in one step.

    Returns
    -------
    numpy.ndarray
        float64 ``[K]``.

    Raises
    ------
    DataValidationError
        When ``P`` is not row-stochastic, or when the stationary distribution is not unique (a reducible chain;
        pass an explicit initial regime to :func:`regime_switching` then).
    """
    p = _transition(transition_matrix)
    k = p.shape[0]
    # Solve (P^T - I) pi = 0 together with sum(pi) = 1; the solution is unique iff rank(P^T - I) = K - 1.
    system = np.vstack([p.T - np.eye(k), np.ones((1, k))])
    if np.linalg.matrix_rank(p.T - np.eye(k), tol=1e-10) != k - 1:
        raise invalid("transition_matrix", "the chain has more than one stationary distribution (it is reducible); "
                                           "pass initial_regime explicitly")
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def _initial_distribution(initial_regime: Any, p: np.ndarray) -> np.ndarray:
    k = p.shape[0]
    if initial_regime is None:
        return stationary_distribution(p)
    if isinstance(initial_regime, (int, np.integer)) and not isinstance(initial_regime, bool):
        if not 0 <= initial_regime < k:
            raise invalid("initial_regime", f"a regime number must lie in 0 .. {k - 1}, got {initial_regime}")
        out = np.zeros(k)
        out[int(initial_regime)] = 1.0
        return out
    try:
        dist = np.asarray(initial_regime, dtype=np.float64)
    except (TypeError, ValueError):
        dist = None
    if (dist is None or dist.shape != (k,) or not np.all(np.isfinite(dist)) or np.any(dist < 0)
            or abs(dist.sum() - 1.0) > _ROW_TOL):
        raise invalid("initial_regime", f"expected None (stationary), a regime number in 0 .. {k - 1}, or {k} "
                                        f"probabilities summing to 1; got {initial_regime!r}")
    return dist


def _draw(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Categorical draws by inversion: the first state whose cumulative probability exceeds ``u``."""
    k = cumulative.shape[-1]
    return np.minimum((u[:, None] >= cumulative).sum(axis=-1), k - 1)


def regime_switching(s0: float, mus: Any, sigmas: Any, transition_matrix: Any, maturity: float, n_steps: int,
                     n_paths: int, seed: Seed = None, initial_regime: Any = None,
                     return_regimes: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Simulate GBM whose drift and volatility follow a discrete-time Markov chain of K regimes.

    J. D. Hamilton, "A new approach to the economic analysis of nonstationary time series and the business
    cycle", *Econometrica* 57, 1989 (Markov-switching regimes); within a step the price follows GBM of the
    current regime, stepped exactly::

        log S(t+dt) - log S(t) = (mus[k_t] - sigmas[k_t]^2 / 2) dt + sigmas[k_t] sqrt(dt) Z_t
        P(k_{t+1} = j | k_t = i) = transition_matrix[i, j]

    Parameters
    ----------
    s0 : float
        Initial price, > 0.
    mus : array_like, shape [K]
        Drift per year of each regime.
    sigmas : array_like, shape [K]
        Volatility per sqrt(year) of each regime, >= 0.
    transition_matrix : array_like, shape [K, K]
        Per-step transition probabilities; rows sum to 1.
    maturity : float
        Horizon in years, > 0.
    n_steps : int
        Number of time steps, >= 1; ``dt = maturity / n_steps``.
    n_paths : int
        Number of independent paths, >= 1.
    seed : int, numpy.random.Generator or None
        Source of randomness; the same int gives the same paths.
    initial_regime : None, int or array_like of K probabilities
        Regime at time 0: drawn from the stationary distribution of the chain (None), fixed (int), or drawn
        from the given probabilities.
    return_regimes : bool, default False
        Also return the regime paths.

    Returns
    -------
    prices : numpy.ndarray
        float64 ``[n_paths, n_steps + 1]``, column 0 equals ``s0``.
    regimes : numpy.ndarray, only with ``return_regimes=True``
        int64 ``[n_paths, n_steps + 1]``: column t is the regime ``k_t`` in force over the step from price
        column t to t + 1 (the last column is the regime after the horizon).
    """
    s0 = positive(s0, "s0")
    p = _transition(transition_matrix)
    k = p.shape[0]
    mus_arr = _vector(mus, "mus", k)
    sigmas_arr = _vector(sigmas, "sigmas", k)
    for i, s in enumerate(sigmas_arr):
        non_negative(float(s), f"sigmas[{i}]")
    maturity = positive(maturity, "maturity")
    n_steps = count(n_steps, "n_steps")
    n_paths = count(n_paths, "n_paths")
    start = _initial_distribution(initial_regime, p)
    gen = rng(seed)

    regimes = np.empty((n_paths, n_steps + 1), dtype=np.int64)
    uniforms = gen.random((n_paths, n_steps + 1))
    regimes[:, 0] = _draw(np.cumsum(start)[None, :], uniforms[:, 0])
    cumulative = np.cumsum(p, axis=1)
    for t in range(n_steps):  # a Markov chain is sequential in time; each step is vectorised over paths
        regimes[:, t + 1] = _draw(cumulative[regimes[:, t]], uniforms[:, t + 1])

    dt = maturity / n_steps
    current = regimes[:, :-1]
    sig = sigmas_arr[current]
    increments = gen.standard_normal((n_paths, n_steps))
    increments *= sig * np.sqrt(dt)
    increments += (mus_arr[current] - 0.5 * sig ** 2) * dt
    prices = paths_from_log_increments(s0, increments)
    return (prices, regimes) if return_regimes else prices


def _vector(values: Any, name: str, k: int) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, f"expected {k} real numbers (one per regime)") from None
    if arr.shape != (k,) or not np.all(np.isfinite(arr)):
        raise invalid(name, f"expected {k} finite real numbers (one per regime, as in transition_matrix), "
                            f"got {values!r}")
    return arr
