"""Heston parameters from an index and its VIX: spot variance backed out of VIX^2, joint Gaussian quasi-MLE.

VIX^2 is the risk-neutral expected average variance over tau = 30 calendar days, which under Heston is affine in
the spot variance (the CIR conditional mean integrated over the horizon)::

    VIX_t^2 = theta + (v_t - theta) B(kappa),   B(kappa) = (1 - e^{-kappa tau}) / (kappa tau)

so v_t = theta + (VIX_t^2 - theta) / B(kappa). Treating VIX^2 as v_t itself (B = 1) shrinks every variance move
by B: at kappa = 25, B = 0.42, exactly the 0.42 of the true vol of vol the old estimator recovered.

P versus Q: by default kappa and theta are the same under both measures (no premium in the variance drift), so
the pair that maps VIX^2 to v_t is the one that drives v_t's time series. With ``variance_premium=True`` Heston's
price of variance risk lambda v is estimated too: VIX^2 is computed with kappa_Q = kappa + lambda and
theta_Q = kappa theta / kappa_Q, while kappa, theta (P) drive the series; the returns, whose variance is v_t,
then tell the P level of variance from the Q level in VIX^2. ``realised_to_implied`` (mean squared daily log
return / mean v_t dt) shows how well the backed-out variance matches the realised one.

Estimator: maximum likelihood of the discretely observed pair (log S, v) with dt = 1 / periods_per_year, the
implied-variance filter moving with kappa and theta at every trial point (so no fixed point to iterate). v_{t+1}
given v_t has the exact CIR (noncentral chi-square) density; the log return y_t given (v_t, v_{t+1}) is Gaussian
with mean mu dt - I/2 + rho/sigma (v_{t+1} - v_t - kappa theta dt + kappa I) and variance (1 - rho^2) I,
I = (v_t + v_{t+1}) dt / 2 (the representation behind Broadie–Kaya and Andersen's QE scheme, with the trapezoid
for int v ds: a quasi-likelihood in that one approximation); the density of the observed VIX^2 adds the Jacobian
-log B(kappa) per step. (mu, kappa, theta, sigma, rho) maximise it jointly. Standard
errors are the sandwich H^{-1} J H^{-1} (H the Hessian, J the outer product of per-step scores; robust to the
non-Gaussian CIR transition), by central differences.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import ive

from ..data.simulate import HestonParams
from ._common import as_array, invalid
from ._heston import FellerWarning

__all__ = ["HestonEstimate", "estimate_heston", "implied_spot_variance", "vix_from_variance"]

NAMES = ("mu", "kappa", "theta", "sigma", "rho")


def _horizon_factor(kappa: float, tau: float) -> float:
    """B(kappa) = (1 - e^{-kappa tau}) / (kappa tau): the weight of spot variance in the expected average."""
    x = kappa * tau
    return float(-np.expm1(-x) / x)


def vix_from_variance(variance: Any, kappa: float, theta: float, horizon_days: float = 30.0) -> np.ndarray:
    """VIX (percent) that Heston gives for spot variance ``variance``: 100 sqrt(theta + (v - theta) B(kappa))."""
    v = np.asarray(variance, dtype=np.float64)
    return 100.0 * np.sqrt(theta + (v - theta) * _horizon_factor(kappa, horizon_days / 365.0))


def implied_spot_variance(vix: Any, kappa: float, theta: float, horizon_days: float = 30.0) -> np.ndarray:
    """Spot variance v_t = theta + ((VIX_t / 100)^2 - theta) / B(kappa), the inverse of :func:`vix_from_variance`."""
    level = (np.asarray(vix, dtype=np.float64) / 100.0) ** 2
    return theta + (level - theta) / _horizon_factor(kappa, horizon_days / 365.0)


@dataclass(frozen=True)
class HestonEstimate:
    """Result of :func:`estimate_heston`.

    params : :class:`HestonParams` with v0 the last backed-out spot variance.
    mu : drift of the index per year. std_errors : sandwich standard error of each of ``NAMES``.
    hessian_std_errors : the same from the inverse Hessian alone (equal to the sandwich if the model were exact).
    feller_ratio : 2 kappa theta / sigma^2. log_likelihood, n_obs : at the optimum.
    variance : the backed-out spot variance path [T]. realised_to_implied : mean y_t^2 / mean (v_t dt).
    variance_premium : lambda (0 unless estimated); kappa_q, theta_q : the risk-neutral pair behind VIX.
    success, message : from the optimiser.
    """

    params: HestonParams
    mu: float
    std_errors: dict[str, float]
    hessian_std_errors: dict[str, float]
    feller_ratio: float
    log_likelihood: float
    n_obs: int
    variance: np.ndarray
    realised_to_implied: float
    variance_premium: float
    kappa_q: float
    theta_q: float
    success: bool
    message: str


def _per_step_loglik(theta_vec: np.ndarray, logp: np.ndarray, vix2: np.ndarray, dt: float, tau: float
                     ) -> np.ndarray | None:
    """Per-step log-likelihood [T - 1] at (mu, kappa, theta, sigma, rho), None where a v_t would be <= 0."""
    mu, kappa, theta, sigma, rho = theta_vec[:5]
    kappa_q = kappa + (theta_vec[5] if theta_vec.size > 5 else 0.0)
    if kappa <= 0.0 or theta <= 0.0 or sigma <= 0.0 or not -1.0 < rho < 1.0 or kappa_q <= 0.0:
        return None
    theta_q = kappa * theta / kappa_q
    b = _horizon_factor(kappa_q, tau)
    v = theta_q + (vix2 - theta_q) / b
    if v.min() <= 0.0:
        return None
    v_now, v_next = v[:-1], v[1:]
    e = np.exp(-kappa * dt)
    # exact CIR transition: 2 c v_{t+1} ~ noncentral chi^2(df, nc) (Cox, Ingersoll & Ross 1985)
    c = 2.0 * kappa / (sigma * sigma * (1.0 - e))
    df = 4.0 * kappa * theta / (sigma * sigma)
    x, nc = 2.0 * c * v_next, 2.0 * c * v_now * e
    z = np.sqrt(x * nc)
    nu = 0.5 * df - 1.0
    log_v = (np.log(2.0 * c) - np.log(2.0) - 0.5 * (x + nc) + 0.5 * nu * np.log(x / nc)
             + np.log(ive(nu, z)) + z)
    # the return given both variances (the representation behind Broadie-Kaya and Andersen's QE), with the
    # trapezoid for int v ds
    iv = 0.5 * (v_now + v_next) * dt
    mean_y = mu * dt - 0.5 * iv + rho / sigma * (v_next - v_now - kappa * theta * dt + kappa * iv)
    var_y = (1.0 - rho * rho) * iv
    resid = np.diff(logp) - mean_y
    log_y = -0.5 * (np.log(2.0 * np.pi * var_y) + resid * resid / var_y)
    return log_v + log_y - np.log(b)


def _to_free(x: np.ndarray) -> np.ndarray:
    return np.array([x[0], np.log(x[1]), np.log(x[2]), np.log(x[3]), np.arctanh(x[4]), *x[5:]])


def _from_free(z: np.ndarray) -> np.ndarray:
    return np.array([z[0], np.exp(z[1]), np.exp(z[2]), np.exp(z[3]), np.tanh(z[4]), *z[5:]])


def _start(logp: np.ndarray, vix2: np.ndarray, dt: float, tau: float) -> np.ndarray:
    """A start inside the feasible set: moments of the VIX^2 series, kappa clipped to [0.5, 10]."""
    b1, a1 = np.polyfit(vix2[:-1], vix2[1:], 1)
    kappa = float(np.clip(-np.log(np.clip(b1, 1e-6, 1 - 1e-6)) / dt, 0.5, 10.0))
    theta = float(np.mean(vix2))
    b = _horizon_factor(kappa, tau)
    while (theta + (vix2 - theta) / b).min() <= 0.0 and kappa > 1e-3:
        kappa *= 0.5
        b = _horizon_factor(kappa, tau)
    v = theta + (vix2 - theta) / b
    resid = np.diff(v) - kappa * (theta - v[:-1]) * dt
    sigma = float(np.std(resid / np.sqrt(v[:-1] * dt)))
    y = np.diff(logp)
    rho = float(np.clip(np.corrcoef(y, np.diff(v))[0, 1], -0.95, 0.95))
    mu = float(np.mean(y) / dt + 0.5 * np.mean(v))
    return np.array([mu, kappa, theta, max(sigma, 1e-3), rho])


def _sandwich(x: np.ndarray, logp, vix2, dt, tau) -> tuple[np.ndarray, np.ndarray]:
    """Sandwich and inverse-Hessian covariances of (mu, kappa, theta, sigma, rho), by central differences.

    The estimate can sit close to the edge of the feasible set (the smallest backed-out v_t near 0, where its
    transition density changes fast), so the derivatives are taken in (mu, kappa, log v_min, sigma, rho), which
    never leave it, and mapped back by the delta method (theta = (m - B v_min) / (1 - B), m = min VIX^2).
    """
    m = float(vix2.min())
    premium = x.size > 5

    def to_x(phi: np.ndarray) -> np.ndarray:
        kappa_q = phi[1] + (phi[5] if premium else 0.0)
        b = _horizon_factor(kappa_q, tau)
        theta_q = (m - b * np.exp(phi[2])) / (1.0 - b)
        return np.array([phi[0], phi[1], theta_q * kappa_q / phi[1], phi[3], phi[4], *phi[5:]])

    kappa_q0 = x[1] + (x[5] if premium else 0.0)
    theta_q0 = x[1] * x[2] / kappa_q0
    b0 = _horizon_factor(kappa_q0, tau)
    phi0 = np.array([x[0], x[1], np.log(theta_q0 + (m - theta_q0) / b0), x[3], x[4], *x[5:]])
    steps = np.array([1e-4 * max(abs(x[0]), 0.1), 1e-4 * x[1], 1e-3, 1e-4 * x[3], 1e-4 * min(1.0, 1.0 - abs(x[4])),
                      *(1e-4 * max(abs(a), 0.1) for a in x[5:])])

    def ll(phi: np.ndarray) -> np.ndarray:
        out = _per_step_loglik(to_x(phi), logp, vix2, dt, tau)
        if out is None:
            raise invalid("vix", "the likelihood is undefined next to the estimate (a backed-out variance <= 0 or "
                                 "theta <= 0): no standard errors")
        return out

    k = phi0.size
    scores = np.empty((k, vix2.size - 1))
    hess = np.empty((k, k))
    jac = np.empty((k, k))
    base = ll(phi0).sum()
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = steps[i]
        up, dn = ll(phi0 + ei), ll(phi0 - ei)
        scores[i] = (up - dn) / (2.0 * steps[i])
        hess[i, i] = (up.sum() - 2.0 * base + dn.sum()) / steps[i] ** 2
        jac[:, i] = (to_x(phi0 + ei) - to_x(phi0 - ei)) / (2.0 * steps[i])
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = steps[j]
            cross = (ll(phi0 + ei + ej).sum() - ll(phi0 + ei - ej).sum() - ll(phi0 - ei + ej).sum()
                     + ll(phi0 - ei - ej).sum())
            hess[i, j] = hess[j, i] = cross / (4.0 * steps[i] * steps[j])
    h_inv = np.linalg.inv(-hess)
    cov = h_inv @ (scores @ scores.T) @ h_inv
    return jac @ cov @ jac.T, jac @ h_inv @ jac.T


def estimate_heston(prices: Any, vix: Any, periods_per_year: float = 252.0, horizon_days: float = 30.0,
                    x0: tuple[float, ...] | None = None, variance_premium: bool = False) -> HestonEstimate:
    """Joint quasi-MLE of (mu, kappa, theta, sigma, rho) from aligned daily index closes and VIX levels (percent).

    Parameters
    ----------
    prices : [T] index closes on the same dates as ``vix`` (> 0, finite), T >= 30.
    vix : [T] VIX levels in percent (> 0, finite).
    periods_per_year : observations per year (252 for trading days); dt = 1 / periods_per_year.
    horizon_days : the VIX horizon in calendar days (30), tau = horizon_days / 365.
    x0 : optional start (mu, kappa, theta, sigma, rho[, lambda]); by default from the moments of VIX^2.
    variance_premium : also estimate Heston's price of variance risk lambda (kappa_Q = kappa + lambda,
        theta_Q = kappa theta / kappa_Q map VIX^2 to v_t; kappa, theta drive v_t's time series); default False:
        kappa and theta are the same under P and Q.

    See the module docstring for the model, the treatment of P versus Q and the standard errors.
    """
    p = as_array(prices, "prices", positive=True).ravel()
    level = as_array(vix, "vix", positive=True).ravel()
    if p.shape != level.shape or p.size < 30:
        raise invalid("vix", f"expected prices and vix of one length >= 30 (aligned dates), got {p.size} and "
                             f"{level.size}")
    dt = 1.0 / float(as_array(periods_per_year, "periods_per_year", positive=True))
    tau = float(as_array(horizon_days, "horizon_days", positive=True)) / 365.0
    logp, vix2 = np.log(p), (level / 100.0) ** 2
    start = np.asarray(x0, dtype=np.float64) if x0 is not None else _start(logp, vix2, dt, tau)
    if variance_premium and start.size == 5:
        start = np.append(start, 0.0)
    if start.size != (6 if variance_premium else 5):
        raise invalid("x0", f"expected {6 if variance_premium else 5} numbers (mu, kappa, theta, sigma, rho"
                            f"{', lambda' if variance_premium else ''}), got {start.size}")
    if _per_step_loglik(start, logp, vix2, dt, tau) is None:
        raise invalid("x0", f"the start {tuple(start)} backs out a spot variance <= 0 or lies outside kappa, theta, "
                            "sigma > 0 and |rho| < 1")
    n = vix2.size - 1

    def objective(z: np.ndarray) -> float:
        out = _per_step_loglik(_from_free(z), logp, vix2, dt, tau)
        return 1e300 if out is None or not np.isfinite(out).all() else -float(out.sum()) / n

    with np.errstate(all="ignore"):
        fit = minimize(objective, _to_free(start), method="BFGS", options={"gtol": 1e-8})
        if not fit.success and fit.status != 2:
            fit = minimize(objective, fit.x, method="Nelder-Mead",
                           options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 5000, "maxfev": 5000})
    x = _from_free(fit.x)
    if not np.isfinite(fit.fun) or fit.fun >= 1e299:
        raise invalid("vix", "no Heston parameters keep every backed-out spot variance positive")
    cov, h_inv = _sandwich(x, logp, vix2, dt, tau)
    mu, kappa, theta, sigma, rho = (float(a) for a in x[:5])
    lam = float(x[5]) if variance_premium else 0.0
    kappa_q = kappa + lam
    theta_q = kappa * theta / kappa_q
    v = implied_spot_variance(level, kappa_q, theta_q, horizon_days)
    ratio = 2.0 * kappa * theta / sigma ** 2
    if ratio <= 1.0:
        warnings.warn(f"estimated Heston parameters violate the Feller condition (2 kappa theta / sigma^2 = "
                      f"{ratio:.3f} <= 1)", FellerWarning, stacklevel=2)
    names = (*NAMES, "lambda") if variance_premium else NAMES
    se = dict(zip(names, (float(s) for s in np.sqrt(np.maximum(np.diag(cov), 0.0))), strict=True))
    se_h = dict(zip(names, (float(s) for s in np.sqrt(np.maximum(np.diag(h_inv), 0.0))), strict=True))
    realised = float(np.mean(np.diff(logp) ** 2) / np.mean(v[:-1] * dt))
    return HestonEstimate(HestonParams(float(v[-1]), kappa, theta, sigma, rho), mu, se, se_h, ratio,
                          -float(fit.fun) * n, n, v, realised, lam, kappa_q, theta_q,
                          bool(fit.success) or fit.status == 2, str(fit.message))
