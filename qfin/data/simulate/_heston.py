"""Heston (1993) stochastic volatility: Andersen's QE-M scheme and full-truncation Euler.

Model, under the pricing measure with rate ``r`` and dividend yield ``q``::

    dS = (r - q) S dt + sqrt(v) S dW_S
    dv = kappa (theta - v) dt + sigma sqrt(v) dW_v,      d<W_S, W_v> = rho dt

Schemes
-------
``"qe"``: L. Andersen, "Simple and efficient simulation of the Heston stochastic volatility model",
*Journal of Computational Finance* 11(3), 2008. The variance step is the Quadratic-Exponential scheme
(§3.2.3, eqs. 17-27 with the switching rule psi_c = 1.5); the log-price step is eq. 33 with
gamma1 = gamma2 = 1/2 and the martingale correction of §4.3 (K0 replaced by K0*), which makes
``E[S(t+dt) | S(t), v(t)] = S(t) exp((r - q) dt)`` hold exactly for the simulated variance.

``"euler"``: full-truncation Euler of R. Lord, R. Koekkoek, D. van Dijk, "A comparison of biased simulation
schemes for stochastic volatility models", *Quantitative Finance* 10(2), 2010 (Table 1, "full truncation"),
with the log-price stepped as ``log S += (r - q - v+/2) dt + sqrt(v+ dt) Z_S``, ``v+ = max(v, 0)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from ._common import Seed, count, invalid, non_negative, positive, real, rng

__all__ = ["HestonParams", "heston"]

_PSI_C = 1.5  # Andersen (2008) §3.2.3: switch from quadratic to exponential above psi_c; any value in [1, 2] works
_GAMMA1 = 0.5  # Andersen (2008) eq. 33, central discretisation of the integral of v over a step
_GAMMA2 = 0.5


@dataclass(frozen=True)
class HestonParams:
    """The five Heston parameters of the variance process and its correlation with the price.

    Attributes
    ----------
    v0 : float
        Initial variance (per year), >= 0. Volatility sqrt(v0), e.g. 0.04 for 20 %.
    kappa : float
        Mean-reversion speed per year, > 0.
    theta : float
        Long-run variance (per year), > 0.
    sigma : float
        Volatility of variance ("vol of vol"), > 0.
    rho : float
        Correlation of the price and variance Brownian motions, in [-1, 1].
    """

    v0: float
    kappa: float
    theta: float
    sigma: float
    rho: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "v0", non_negative(self.v0, "v0"))
        object.__setattr__(self, "kappa", positive(self.kappa, "kappa"))
        object.__setattr__(self, "theta", positive(self.theta, "theta"))
        object.__setattr__(self, "sigma", positive(self.sigma, "sigma"))
        rho = real(self.rho, "rho")
        if not -1.0 <= rho <= 1.0:
            raise invalid("rho", f"must lie in [-1, 1], got {rho!r}")
        object.__setattr__(self, "rho", rho)

    @property
    def feller(self) -> bool:
        """True when the Feller condition ``2 kappa theta > sigma^2`` holds (the variance never reaches 0)."""
        return 2.0 * self.kappa * self.theta > self.sigma ** 2


def heston(s0: float, v0: float | None = None, kappa: float | None = None, theta: float | None = None,
           sigma: float | None = None, rho: float | None = None, rate: float = 0.0,
           maturity: float | None = None, n_steps: int | None = None, n_paths: int | None = None,
           scheme: str = "qe", seed: Seed = None, return_variance: bool = False, dividend: float = 0.0,
           *, params: HestonParams | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Simulate Heston (1993) price paths (and their variance) under the risk-neutral drift ``rate - dividend``.

    Parameters
    ----------
    s0 : float
        Initial price, > 0.
    v0, kappa, theta, sigma, rho : float
        Heston parameters (see :class:`HestonParams`); give them all, or pass ``params=`` instead.
    rate : float, default 0.0
        Continuously compounded risk-free rate per year.
    maturity : float
        Horizon in years, > 0 (required).
    n_steps : int
        Number of time steps, >= 1 (required); ``dt = maturity / n_steps``.
    n_paths : int
        Number of independent paths, >= 1 (required).
    scheme : {"qe", "euler"}, default "qe"
        ``"qe"``: Andersen (2008) QE with martingale correction (accurate with few steps, e.g. dt = 1/4 year
        even when the Feller condition fails). ``"euler"``: full-truncation Euler (Lord et al. 2010), which
        needs many more steps for the same accuracy.
    seed : int, numpy.random.Generator or None
        Source of randomness; the same int gives the same paths.
    return_variance : bool, default False
        Also return the variance paths.
    dividend : float, default 0.0
        Continuous dividend yield per year.
    params : HestonParams, optional (keyword only)
        The five model parameters in one object, instead of ``v0 .. rho``.

    Returns
    -------
    prices : numpy.ndarray
        float64 ``[n_paths, n_steps + 1]``, column 0 equals ``s0``.
    variances : numpy.ndarray, only with ``return_variance=True``
        float64 ``[n_paths, n_steps + 1]``, column 0 equals ``v0``; always >= 0 (for ``"euler"`` this is
        ``max(v, 0)`` of the internal, possibly negative, Euler variance).

    Notes
    -----
    The QE martingale correction (Andersen §4.3) requires ``A < 1/(2a)`` on quadratic-branch paths and
    ``A < beta`` on exponential-branch paths, with ``A = K2 + K4/2``. It always holds for ``rho <= 0``; it can
    fail for strongly positive ``rho`` with large steps. On the paths where it fails the uncorrected ``K0``
    of eq. 33 is used (those paths lose the exact martingale property) and a ``RuntimeWarning`` says how many
    path-steps were affected; more steps remove it.
    """
    model = _resolve_params(v0, kappa, theta, sigma, rho, params)
    s0 = positive(s0, "s0")
    rate = real(rate, "rate")
    dividend = real(dividend, "dividend")
    if maturity is None or n_steps is None or n_paths is None:
        missing = [n for n, v in (("maturity", maturity), ("n_steps", n_steps), ("n_paths", n_paths)) if v is None]
        raise invalid(missing[0], f"{', '.join(missing)} must be given (maturity in years > 0, "
                                  "n_steps >= 1, n_paths >= 1)")
    maturity = positive(maturity, "maturity")
    n_steps = count(n_steps, "n_steps")
    n_paths = count(n_paths, "n_paths")
    if scheme not in ("qe", "euler"):
        raise invalid("scheme", f"must be 'qe' or 'euler', got {scheme!r}")
    gen = rng(seed)

    step = _qe_step if scheme == "qe" else _euler_step
    dt = maturity / n_steps
    log_s = np.zeros((n_paths, n_steps + 1), dtype=np.float64)
    var = np.empty((n_paths, n_steps + 1), dtype=np.float64) if return_variance else None
    if var is not None:
        var[:, 0] = model.v0
    state = np.full(n_paths, model.v0)  # Euler's untruncated variance; QE's equals var[:, t]
    failed = 0
    for t in range(n_steps):
        state, dlog, n_fail = step(state, model, dt, gen)
        if var is not None:
            var[:, t + 1] = np.maximum(state, 0.0)
        log_s[:, t + 1] = log_s[:, t] + dlog
        failed += n_fail
    if failed:
        warnings.warn(
            f"heston QE: the martingale correction (Andersen 2008, §4.3) is undefined on {failed} of "
            f"{n_paths * n_steps} path-steps (A >= 1/(2a) or A >= beta, rho={model.rho}); the uncorrected K0 was "
            "used there. Use more steps (smaller dt) to restore the exact martingale property.",
            RuntimeWarning, stacklevel=2)
    log_s += (rate - dividend) * dt * np.arange(n_steps + 1)
    prices = s0 * np.exp(log_s)
    return (prices, var) if return_variance else prices


def _resolve_params(v0, kappa, theta, sigma, rho, params) -> HestonParams:
    given = {"v0": v0, "kappa": kappa, "theta": theta, "sigma": sigma, "rho": rho}
    if params is not None:
        if not isinstance(params, HestonParams):
            raise invalid("params", f"expected a HestonParams, got {type(params).__name__}")
        clash = [name for name, value in given.items() if value is not None]
        if clash:
            raise invalid(clash[0], f"pass either params= or {', '.join(given)}, not both "
                                    f"(got params and {', '.join(clash)})")
        return params
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise invalid(missing[0], f"{', '.join(missing)} must be given (or pass params=HestonParams(...))")
    return HestonParams(v0=v0, kappa=kappa, theta=theta, sigma=sigma, rho=rho)


def _qe_step(v: np.ndarray, p: HestonParams, dt: float,
             gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """One QE-M step: (next variance, log-price increment without the (r - q) dt drift, failed corrections)."""
    e = np.exp(-p.kappa * dt)
    # Andersen (2008) eqs. 17-18: conditional mean and variance of v(t+dt) given v(t).
    m = p.theta + (v - p.theta) * e
    s2 = v * (p.sigma ** 2 * e / p.kappa) * (1.0 - e) + p.theta * p.sigma ** 2 / (2.0 * p.kappa) * (1.0 - e) ** 2
    psi = s2 / (m * m)

    k0 = -p.rho * p.kappa * p.theta / p.sigma * dt
    k1 = _GAMMA1 * dt * (p.kappa * p.rho / p.sigma - 0.5) - p.rho / p.sigma
    k2 = _GAMMA2 * dt * (p.kappa * p.rho / p.sigma - 0.5) + p.rho / p.sigma
    k3 = _GAMMA1 * dt * (1.0 - p.rho ** 2)
    k4 = _GAMMA2 * dt * (1.0 - p.rho ** 2)
    big_a = k2 + 0.5 * k4

    u = gen.random(v.shape)
    v_next = np.empty_like(v)
    k0_star = np.full_like(v, k0)
    ok = np.ones(v.shape, dtype=bool)

    quad = psi <= _PSI_C
    if quad.any():
        # Eqs. 26-27: v' = a (b + Z_v)^2 with Z_v = Phi^{-1}(U).
        pq, mq = psi[quad], m[quad]
        b2 = 2.0 / pq - 1.0 + np.sqrt(2.0 / pq) * np.sqrt(2.0 / pq - 1.0)
        a = mq / (1.0 + b2)
        v_next[quad] = a * (np.sqrt(b2) + ndtri(u[quad])) ** 2
        # §4.3: K0* = -A b^2 a / (1 - 2 A a) + ln(1 - 2 A a)/2 - (K1 + K3/2) v, valid for A < 1/(2a).
        good = big_a * a < 0.5
        one_minus = np.where(good, 1.0 - 2.0 * big_a * a, 1.0)
        k0_star[quad] = np.where(good, -big_a * b2 * a / one_minus + 0.5 * np.log(one_minus)
                                 - (k1 + 0.5 * k3) * v[quad], k0)
        ok[quad] = good
    expo = ~quad
    if expo.any():
        # Eqs. 25 and 23: P(v' = 0) = p, otherwise exponential with rate beta; sampled by inversion of U.
        pe, me, ue = psi[expo], m[expo], u[expo]
        prob0 = (pe - 1.0) / (pe + 1.0)
        beta = (1.0 - prob0) / me
        v_next[expo] = np.where(ue <= prob0, 0.0, np.log((1.0 - prob0) / np.maximum(1.0 - ue, 1e-300)) / beta)
        # §4.3: K0* = -ln(p + beta (1 - p)/(beta - A)) - (K1 + K3/2) v, valid for A < beta.
        good = big_a < beta
        mix = np.where(good, prob0 + beta * (1.0 - prob0) / np.where(good, beta - big_a, 1.0), 1.0)
        k0_star[expo] = np.where(good, -np.log(mix) - (k1 + 0.5 * k3) * v[expo], k0)
        ok[expo] = good

    z = gen.standard_normal(v.shape)
    dlog = k0_star + k1 * v + k2 * v_next + np.sqrt(k3 * v + k4 * v_next) * z
    return v_next, dlog, int(v.size - np.count_nonzero(ok))


def _euler_step(v: np.ndarray, p: HestonParams, dt: float,
                gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """One full-truncation Euler step on the untruncated variance ``v`` (Lord et al. 2010, Table 1)."""
    v_plus = np.maximum(v, 0.0)
    sq = np.sqrt(v_plus * dt)
    z_v = gen.standard_normal(v.shape)
    z = gen.standard_normal(v.shape)
    z_s = p.rho * z_v + np.sqrt(1.0 - p.rho ** 2) * z
    v_next = v + p.kappa * (p.theta - v_plus) * dt + p.sigma * sq * z_v
    dlog = -0.5 * v_plus * dt + sq * z_s
    return v_next, dlog, 0
