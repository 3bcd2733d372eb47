"""Heston Fourier integrals on a shifted contour with the optimal damping, integrated by vectorised adaptive
Gauss–Kronrod: the engine behind :func:`heston_price` and :func:`heston_probabilities`.

With X = log(S_T / F), k = log(K / F), phi(w) = E[exp(i w X)] and omega = alpha + 1 (Carr & Madan 1999; Lord &
Kahl 2007, "Optimal Fourier inversion in semi-analytical option pricing", J. Comput. Finance 10(4), eq. 7)::

    I_a(k) = e^{-alpha k} / pi * int_0^inf Re[ e^{-iuk} phi(u - i omega) / ((alpha + iu)(alpha + 1 + iu)) ] du
    c(k) = E[(e^X - e^k)^+] = I_a(k) + R,   R = 0 (alpha > 0), 1 (-1 < alpha < 0), 1 - e^k (alpha < -1)

(the residues of the contour shift). Differentiating in k gives the exercise probabilities with one factor of
the denominator each: P1 = J1 + 1{alpha < 0} and P2 = J2 + 1{alpha < -1}, where J1 is I_a with the denominator
(alpha + iu) alone and J2 is e^{-k} I_a with (alpha + 1 + iu) alone.

alpha is chosen per option, as Lord & Kahl do, to minimise the integrand at u = 0 (there the integrand is real
and, at the optimum, a saddle point: the phase e^{-iuk} is cancelled to first order, so the integrand is a
non-oscillating bump), on a grid over the three strips refined once, inside the strip where E[e^{omega X}] is
finite at T (the moment-explosion time of Andersen & Piterbarg 2007, Finance Stoch. 11, Prop. 3.1).
The truncation point is read off the integrand itself on a geometric probe grid (the first point beyond which
|integrand| * u stays below the tolerance: a bound on the tail when the integrand decays at least like 1/u^2),
and [0, U] starts as geometric panels refined by Gauss–Kronrod (10, 21) until each panel's error estimate is below
its share of the tolerance. Every option of a call runs in the same vectorised rounds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["explosion_time", "fourier_integrals", "log_cf"]

# Gauss–Kronrod (10, 21) on [-1, 1] (QUADPACK qk21): Kronrod nodes from the outside in, then 0
_XK = np.array([0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
                0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
                0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
                0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
                0.294392862701460198131126603103866, 0.148874338981631210884826001129720, 0.0])
_WK = np.array([0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
                0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
                0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
                0.123491976262065851077600525452322, 0.134709217311473325928054001771707,
                0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
                0.149445554002916905664936468389821])
_WG = np.array([0.066671344308688137593568809893332, 0.149451349150580593145776339657697,
                0.219086362515982043995534934228163, 0.269266719309996355091226921569469,
                0.295524224714752870173892994651338])
X_KR = np.concatenate([-_XK[:-1], _XK[::-1]])
W_KR = np.concatenate([_WK[:-1], _WK[::-1]])
W_GA = np.zeros(21)
W_GA[[1, 3, 5, 7, 9]] = _WG
W_GA[[19, 17, 15, 13, 11]] = _WG

MODE_PRICE, MODE_P1, MODE_P2 = 0, 1, 2
FIRST_PANEL, GROWTH, N_PROBE = 0.25, 2.0, 40


def log_cf(w: np.ndarray, t, v0, kappa, theta, sigma, rho) -> np.ndarray:
    """log E[exp(i w log(S_T/F))] for complex w, in the "little Heston trap" form (Albrecher et al. 2007), which
    stays on the principal branch of the logarithm; arrays broadcast."""
    iw = 1j * w
    xi = kappa - sigma * rho * iw
    d = np.sqrt(xi * xi + sigma * sigma * (w * w + iw))
    g = (xi - d) / (xi + d)
    e = np.exp(-d * t)
    big_d = (xi - d) / (sigma * sigma) * (1.0 - e) / (1.0 - g * e)
    big_c = kappa * theta / (sigma * sigma) * ((xi - d) * t - 2.0 * np.log((1.0 - g * e) / (1.0 - g)))
    return big_c + big_d * v0


def explosion_time(omega: np.ndarray, kappa, sigma, rho) -> np.ndarray:
    """T*(omega): the first maturity at which E[(S_T/F)^omega] is infinite (inf when never), for real omega.

    The Riccati equation B' = omega(omega - 1)/2 - (kappa - sigma rho omega) B + sigma^2 B^2 / 2, B(0) = 0,
    blows up at T* = log((xi - sqrt D) / (xi + sqrt D)) / sqrt D when D >= 0 > xi, and at
    T* = 2 / sqrt(-D) (pi/2 + arctan(xi / sqrt(-D))) when D < 0, with xi = kappa - sigma rho omega and
    D = xi^2 - sigma^2 omega (omega - 1) (Andersen & Piterbarg 2007, Prop. 3.1); never for omega in [0, 1].
    """
    omega, kappa, sigma, rho = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                                     for a in (omega, kappa, sigma, rho)))
    xi = kappa - sigma * rho * omega
    disc = xi * xi - sigma * sigma * omega * (omega - 1.0)
    out = np.full(omega.shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.abs(disc))
        neg = disc < 0.0
        out = np.where(neg, 2.0 / root * (0.5 * np.pi + np.arctan(xi / root)), out)
        real_blow = (~neg) & (xi <= 0.0)
        ax = np.abs(xi)
        t_real = np.where(root > 0.0, np.log1p(2.0 * root / (ax - root)) / root, 2.0 / ax)
        out = np.where(real_blow, t_real, out)
    return np.where((omega >= 0.0) & (omega <= 1.0), np.inf, out)


def _alpha_grid(k, t, v0, kappa, theta, sigma, rho, group, n_groups, n_grid):
    """Per option, the damping alpha on a grid over the three strips that minimises the price integrand at u = 0.

    The grid (and E[e^{omega X}] on it) belongs to a model group; only -alpha k varies with the strike. Returns the
    grid index per option and the grid [n_groups, 3 n_grid].
    """
    first = np.zeros(n_groups, dtype=np.int64)
    first[group[::-1]] = np.arange(group.size)[::-1]  # one representative option per group
    gt, gv0, gkap, gth, gsig, grho = (a[first] for a in (t, v0, kappa, theta, sigma, rho))
    kmax = np.zeros(n_groups)
    np.maximum.at(kmax, group, np.abs(k))
    var = np.maximum(np.minimum(gv0, gth), 1e-4) * gt
    cap = np.minimum(2.0 + 4.0 * kmax / var, 1e5)
    s = np.linspace(0.0, 1.0, n_grid)
    up = np.exp(np.log(1e-2) + s[None, :] * (np.log(cap) - np.log(1e-2))[:, None])
    mid = np.broadcast_to(-1.0 + np.linspace(0.02, 0.98, n_grid), up.shape)
    grid = np.concatenate([up, mid, -1.0 - up], axis=1)
    omega = grid + 1.0
    cols = [a[:, None] for a in (gt, gv0, gkap, gth, gsig, grho)]
    with np.errstate(all="ignore"):
        base = np.real(log_cf(-1j * omega + 0.0, *cols)) - np.log(np.abs(grid * omega))
        ok = (cols[0] < 0.9 * explosion_time(omega, cols[2], cols[4], cols[5])) & np.isfinite(base)
    base = np.where(ok, base, np.inf)
    f = base[group] - grid[group] * k[:, None]
    return np.argmin(f, axis=1), grid


def fourier_integrals(mode, k, t, v0, kappa, theta, sigma, rho, *, epsabs: float, max_upper: float | None = None,
                      n_grid: int = 16, max_rounds: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(1/pi) int_0^inf of the ``mode`` integrand for each option (1-d arrays of one length) to ``epsabs``,
    and the damping alpha used.

    Options of one model (t, v0, kappa, theta, sigma, rho) and mode whose best grid alpha is the same form a
    cluster: the characteristic function is evaluated once per quadrature node of a cluster's panel and each
    option on that panel only adds its own e^{-(alpha + iu) k}; a panel is split for the options whose error
    estimate fails there, and the others are done with it.
    """
    n = k.size
    model = np.stack([t, v0, kappa, theta, sigma, rho], axis=1)
    if (model == model[0]).all():
        group, n_groups = np.zeros(n, dtype=np.int64), 1
    else:
        _, group = np.unique(model, axis=0, return_inverse=True)
        group = group.ravel()
        n_groups = int(group.max()) + 1
    best, grid = _alpha_grid(k, t, v0, kappa, theta, sigma, rho, group, n_groups, n_grid)
    key = (mode * n_groups + group) * grid.shape[1] + best
    keys, cluster = np.unique(key, return_inverse=True)
    cluster = cluster.ravel()
    n_cl = keys.size
    rep = np.zeros(n_cl, dtype=np.int64)
    rep[cluster[::-1]] = np.arange(n)[::-1]
    c_mode = mode[rep]
    alpha = grid[group[rep], best[rep]]
    omega = alpha + 1.0
    c_model = [a[rep] for a in (t, v0, kappa, theta, sigma, rho)]
    o_shift = np.where(mode == MODE_P2, omega[cluster], alpha[cluster])

    def characteristic(u, c):
        """phi(u - i omega) / denom at nodes u [P, N] of clusters c [P], as a log and an inverse."""
        al, om = alpha[c][:, None], omega[c][:, None]
        logcf = log_cf(u - 1j * om, *(a[c][:, None] for a in c_model))
        z1, z2 = al + 1j * u, om + 1j * u
        md = c_mode[c][:, None]
        return logcf, 1.0 / np.where(md == MODE_PRICE, z1 * z2, np.where(md == MODE_P1, z1, z2))

    def option_values(u, logcf, inv, opt):
        """Re[e^{-(shift + iu) k} phi / denom] for options ``opt`` on rows of (u, logcf, inv) [Q, N]."""
        return np.real(np.exp(logcf - (o_shift[opt][:, None] + 1j * u) * k[opt][:, None]) * inv)

    c_t, c_v0, c_kap, c_th = c_model[:4]
    mean_var = np.maximum(c_th + (c_v0 - c_th) * (-np.expm1(-c_kap * c_t)) / (c_kap * c_t), 1e-12)
    scale = 1.0 / np.sqrt(mean_var * c_t)  # width of the bump at u = 0
    probe = (FIRST_PANEL * scale)[:, None] * GROWTH ** np.arange(N_PROBE)[None, :]
    with np.errstate(all="ignore"):
        logcf, inv = characteristic(probe, np.arange(n_cl))
        mag = np.abs(option_values(probe[cluster], logcf[cluster], inv[cluster], np.arange(n))) * probe[cluster]
    mag = np.where(np.isfinite(mag), mag, np.inf)
    tail_ok = np.flip(np.logical_and.accumulate(np.flip(mag <= 0.1 * epsabs, axis=1), axis=1), axis=1)
    first = np.where(tail_ok.any(axis=1), np.argmax(tail_ok, axis=1), probe.shape[1] - 1)
    upper = np.zeros(n_cl)
    np.maximum.at(upper, cluster, probe[cluster, first])
    if max_upper is not None:
        upper = np.minimum(upper, max_upper)
    edges = np.minimum(np.concatenate([np.zeros((n_cl, 1)), probe], axis=1), upper[:, None])
    a, b = edges[:, :-1], edges[:, 1:]
    keep = b > a
    cl = np.broadcast_to(np.arange(n_cl)[:, None], a.shape)[keep]
    a, b = a[keep], b[keep]
    # (panel, option) pairs: every option of a cluster on every panel of it
    panel_of_cluster = [np.flatnonzero(cl == c) for c in range(n_cl)]
    pair_panel = np.concatenate([panel_of_cluster[cluster[i]] for i in range(n)])
    pair_opt = np.concatenate([np.full(panel_of_cluster[cluster[i]].size, i) for i in range(n)])
    total = np.zeros(n)
    tiny = 50.0 * np.finfo(float).eps
    for round_ in range(max_rounds):
        mid, half = 0.5 * (a + b), 0.5 * (b - a)
        u = mid[:, None] + half[:, None] * X_KR[None, :]
        with np.errstate(all="ignore"):
            logcf, inv = characteristic(u, cl)
            vals = option_values(u[pair_panel], logcf[pair_panel], inv[pair_panel], pair_opt)
            h = half[pair_panel]
            kron = h * (vals @ W_KR)
            # QUADPACK's error estimate: |K21 - G10| scaled by its size relative to the integrand's spread
            resasc = h * (np.abs(vals - (kron / (2.0 * h))[:, None]) @ W_KR)
            raw = np.abs(kron - h * (vals @ W_GA))
            err = np.where(resasc > 0.0, resasc * np.minimum(1.0, (200.0 * raw / resasc) ** 1.5), raw)
            floor = tiny * h * (np.abs(vals) @ W_KR)
        done = err <= np.maximum(epsabs * 2.0 * h / upper[cl[pair_panel]], floor)
        if round_ == max_rounds - 1:
            done[:] = True
        total += np.bincount(pair_opt[done], weights=kron[done], minlength=n)
        if done.all():
            break
        pair_panel, pair_opt = pair_panel[~done], pair_opt[~done]
        split, pair_panel = np.unique(pair_panel, return_inverse=True)
        pair_panel = pair_panel.ravel()
        a, mid, b, cl = a[split], 0.5 * (a[split] + b[split]), b[split], cl[split]
        m = split.size
        a, b, cl = np.concatenate([a, mid]), np.concatenate([mid, b]), np.concatenate([cl, cl])
        pair_panel, pair_opt = np.concatenate([pair_panel, pair_panel + m]), np.concatenate([pair_opt, pair_opt])
    return total / np.pi, alpha[cluster]
