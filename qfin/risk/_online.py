"""Online performance measures: the differential Sharpe ratio of Moody & Saffell (a per-step reward for
Sharpe-seeking agents) and :class:`RunningSharpe` (the sample Sharpe ratio of a growing series in O(1) per step).

The differential Sharpe ratio:

Moody, Wu, Liao & Saffell (1998), "Performance functions and reinforcement learning for trading systems and
portfolios", J. of Forecasting 17; Moody & Saffell (2001), "Learning to trade via direct reinforcement",
IEEE Trans. Neural Networks 12(4). Exponential moving estimates of the first and second moments of returns,

    A_t = A_{t-1} + eta (R_t - A_{t-1}),      B_t = B_{t-1} + eta (R_t^2 - B_{t-1}),

define a moving Sharpe ratio S_t = A_t / sqrt(B_t - A_t^2). Expanding S_t to first order in eta around
eta = 0 gives S_t ~ S_{t-1} + eta D_t with the differential Sharpe ratio

    D_t = (B_{t-1} dA_t - A_{t-1} dB_t / 2) / (B_{t-1} - A_{t-1}^2)^{3/2},
    dA_t = R_t - A_{t-1},  dB_t = R_t^2 - B_{t-1},

the marginal effect of the latest return on the Sharpe ratio, used as a per-step reward.
(Moody & Saffell scale S_t by K_eta = sqrt((1 - eta/2) / (1 - eta)) to debias the variance; D_t is the
derivative of the unscaled ratio, so :attr:`DifferentialSharpe.sharpe` is unscaled too.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qfin.errors import QfinError
from qfin.risk._backend import check_fraction

__all__ = ["DifferentialSharpe", "RunningSharpe"]


class DifferentialSharpe:
    """Online differential Sharpe ratio D_t (Moody & Saffell 2001), one return (or one per env) at a time.

    ``update(r)`` takes the latest return R_t, returns D_t computed from the moments *before* this return,
    then folds R_t into the moving moments A and B. It returns 0.0 in two cases, where D_t is undefined or
    meaningless:

    - while the moving variance B_{t-1} - A_{t-1}^2 is not positive (at the start A = B = 0, so the first
      update always gives 0; also after a run of identical returns): the formula divides by it;
    - during the first ``warmup`` updates: starting from A = B = 0 the variance estimate after a few
      returns is tiny (about eta * R_1^2 after one), so D_t would be huge and dominated by the initial
      condition; a warm-up lets the moments settle (around 1 / eta updates) before rewards count.

    Returning 0 (rather than NaN) keeps it usable as an RL reward: "no information yet" adds nothing.

    Parameters
    ----------
    eta : adaptation rate in (0, 1); the moments average over roughly 1 / eta recent returns.
    warmup : number of initial updates that return 0 while A and B are updated (>= 0).
    mean, second_moment : initial A_0 and B_0 (default 0, as in the paper); pass estimates from a history
        to start without warm-up.

    Returns are floats, or for vectorised environments a [n_envs] array: the state broadcasts to the shape of
    the first return passed after construction or :meth:`reset`.
    """

    def __init__(self, eta: float = 0.01, warmup: int = 0, mean: float = 0.0, second_moment: float = 0.0) -> None:
        self.eta = check_fraction(eta, "eta")
        if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
            raise QfinError(f"warmup must be a whole number >= 0; got {warmup!r}")
        self.warmup = int(warmup)
        self._initial = (self._moment(mean, "mean"), self._moment(second_moment, "second_moment"))
        if np.any(self._initial[1] < self._initial[0] ** 2):
            raise QfinError("second_moment must be >= mean**2 (a second moment is at least the squared mean); "
                            f"got mean={mean!r}, second_moment={second_moment!r}")
        self.reset()

    @staticmethod
    def _moment(value: Any, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise QfinError(f"{name} must be finite; got {value!r}")
        return arr

    def reset(self) -> None:
        """Back to the initial moments and update count 0."""
        self._a = self._initial[0].copy()
        self._b = self._initial[1].copy()
        self._count = 0

    @property
    def mean(self) -> Any:
        """A_t, the moving mean of returns (float, or [n_envs] array)."""
        return self._out(self._a)

    @property
    def second_moment(self) -> Any:
        """B_t, the moving mean of squared returns."""
        return self._out(self._b)

    @property
    def n_updates(self) -> int:
        """Number of updates since construction or the last reset."""
        return self._count

    @property
    def sharpe(self) -> Any:
        """The moving (per-period, unscaled) Sharpe ratio S_t = A_t / sqrt(B_t - A_t^2); NaN while the
        moving variance is not positive."""
        var = self._b - self._a ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._out(np.where(var > 0, self._a / np.sqrt(np.where(var > 0, var, 1.0)), np.nan))

    @staticmethod
    def _out(x: np.ndarray) -> Any:
        return float(x) if x.ndim == 0 else x.copy()

    def update(self, r: Any) -> Any:
        """Take return R_t (float, or [n_envs] array); return D_t (0 during warm-up or zero variance)."""
        ret = np.asarray(r, dtype=np.float64)
        if not np.all(np.isfinite(ret)):
            raise QfinError(f"return r must be finite; got {r!r}")
        try:
            shape = np.broadcast_shapes(ret.shape, self._a.shape)
        except ValueError:
            raise QfinError(f"return r has shape {ret.shape}, but the state has shape {self._a.shape}; pass one "
                            f"return per environment every step (or reset())") from None
        a_prev, b_prev = np.broadcast_to(self._a, shape), np.broadcast_to(self._b, shape)
        d_a = ret - a_prev
        d_b = ret ** 2 - b_prev
        var = b_prev - a_prev ** 2
        safe = var > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(safe, (b_prev * d_a - 0.5 * a_prev * d_b) / np.where(safe, var, 1.0) ** 1.5, 0.0)
        if self._count < self.warmup:
            d = np.zeros(shape)
        self._a = a_prev + self.eta * d_a
        self._b = b_prev + self.eta * d_b
        self._count += 1
        return self._out(np.asarray(d))


class RunningSharpe:
    """The sample Sharpe ratio of the returns seen so far, updated in O(1) per return: what
    :func:`qfin.risk.sharpe_ratio` gives on the whole prefix (mean over sample standard deviation, times
    sqrt(periods_per_year)), kept with Welford's running mean and sum of squared deviations instead of a pass
    over the prefix at every step. NaN before two returns; +-inf (NaN for a zero mean) for a constant series.
    """

    def __init__(self, periods_per_year: float = 252) -> None:
        if not (np.isfinite(periods_per_year) and periods_per_year > 0):
            raise QfinError(f"periods_per_year must be a finite number > 0; got {periods_per_year!r}")
        self.periods_per_year = float(periods_per_year)
        self.reset()

    def reset(self) -> None:
        self.count, self.mean, self._m2 = 0, 0.0, 0.0

    def update(self, r: float) -> float:
        """Fold in the latest return; the Sharpe ratio of all returns so far."""
        self.count += 1
        delta = r - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (r - self.mean)
        if self.count < 2:
            return float("nan")
        std = np.sqrt(max(self._m2, 0.0) / (self.count - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(self.mean) / std * np.sqrt(self.periods_per_year))
