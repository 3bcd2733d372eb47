"""Option payoffs as functions of the whole spot path: one definition for the deep hedger, the hedging environment
and Monte Carlo pricing.

A payoff is any callable ``payoff(paths) -> [n_paths]`` on spot paths ``[n_paths, n_steps + 1]`` (column 0 the
spot today, the last column at maturity). Path-dependent payoffs are monitored on the path's own grid (the
rebalancing dates): the averages of Asian options take the fixings at t_1 .. t_n (not today's spot), lookbacks
and barriers the maxima and minima over t_0 .. t_n. Each class is a frozen dataclass: it pickles, prints its
terms and compares by value. :func:`check_payoff` runs a user's callable once and says in one line what is wrong
with its output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from qfin.errors import QfinError

__all__ = ["AsianOption", "BarrierOption", "Digital", "LookbackOption", "Spread", "Vanilla", "check_payoff"]

Kind = Literal["call", "put"]


def _kind(kind: str, where: str) -> None:
    if kind not in ("call", "put"):
        raise QfinError(f"{where}: kind must be 'call' or 'put', got {kind!r}")


def _positive(value: Any, name: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise QfinError(f"{where}: {name} must be a number > 0, got {value!r}")


def _intrinsic(price: np.ndarray, strike: float, kind: str) -> np.ndarray:
    return np.maximum(price - strike, 0.0) if kind == "call" else np.maximum(strike - price, 0.0)


def _paths(paths: Any) -> np.ndarray:
    p = np.asarray(paths, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise QfinError(f"a payoff takes spot paths [n_paths, n_steps + 1] with n_steps >= 1; got shape {p.shape}")
    return p


@dataclass(frozen=True)
class Vanilla:
    """European call max(S_T - K, 0) or put max(K - S_T, 0)."""

    strike: float
    kind: Kind = "call"

    def __post_init__(self) -> None:
        _positive(self.strike, "strike", "Vanilla")
        _kind(self.kind, "Vanilla")

    def __call__(self, paths: Any) -> np.ndarray:
        return _intrinsic(_paths(paths)[:, -1], self.strike, self.kind)


@dataclass(frozen=True)
class Spread:
    """Call spread (long the ``low`` strike call, short the ``high``) or put spread (long the ``high`` put, short
    the ``low``): a payoff between 0 and ``high - low``."""

    low: float
    high: float
    kind: Kind = "call"

    def __post_init__(self) -> None:
        _positive(self.low, "low", "Spread")
        _kind(self.kind, "Spread")
        if not self.high > self.low:
            raise QfinError(f"Spread: high must be above low, got low={self.low!r}, high={self.high!r}")

    def __call__(self, paths: Any) -> np.ndarray:
        spot = _paths(paths)[:, -1]
        if self.kind == "call":
            return np.clip(spot - self.low, 0.0, self.high - self.low)
        return np.clip(self.high - spot, 0.0, self.high - self.low)


@dataclass(frozen=True)
class Digital:
    """Cash-or-nothing: ``cash`` if S_T > K (call) or S_T < K (put), else 0."""

    strike: float
    kind: Kind = "call"
    cash: float = 1.0

    def __post_init__(self) -> None:
        _positive(self.strike, "strike", "Digital")
        _positive(self.cash, "cash", "Digital")
        _kind(self.kind, "Digital")

    def __call__(self, paths: Any) -> np.ndarray:
        spot = _paths(paths)[:, -1]
        return self.cash * ((spot > self.strike) if self.kind == "call" else (spot < self.strike))


@dataclass(frozen=True)
class AsianOption:
    """Average-price option on the fixings S_1 .. S_n: max(A - K, 0) (call) or max(K - A, 0) (put), A the
    arithmetic or geometric mean."""

    strike: float
    kind: Kind = "call"
    average: Literal["arithmetic", "geometric"] = "arithmetic"

    def __post_init__(self) -> None:
        _positive(self.strike, "strike", "AsianOption")
        _kind(self.kind, "AsianOption")
        if self.average not in ("arithmetic", "geometric"):
            raise QfinError(f"AsianOption: average must be 'arithmetic' or 'geometric', got {self.average!r}")

    def __call__(self, paths: Any) -> np.ndarray:
        fixings = _paths(paths)[:, 1:]
        mean = fixings.mean(axis=1) if self.average == "arithmetic" else np.exp(np.log(fixings).mean(axis=1))
        return _intrinsic(mean, self.strike, self.kind)


@dataclass(frozen=True)
class LookbackOption:
    """Lookback on the path's extremes over t_0 .. t_n. Fixed strike: max(M - K, 0) (call, M the maximum) or
    max(K - m, 0) (put, m the minimum). Floating strike (``strike=None``): S_T - m (call) or M - S_T (put)."""

    strike: float | None = None
    kind: Kind = "call"

    def __post_init__(self) -> None:
        if self.strike is not None:
            _positive(self.strike, "strike", "LookbackOption")
        _kind(self.kind, "LookbackOption")

    def __call__(self, paths: Any) -> np.ndarray:
        p = _paths(paths)
        high, low = p.max(axis=1), p.min(axis=1)
        if self.strike is None:
            return p[:, -1] - low if self.kind == "call" else high - p[:, -1]
        return np.maximum(high - self.strike, 0.0) if self.kind == "call" else np.maximum(self.strike - low, 0.0)


@dataclass(frozen=True)
class BarrierOption:
    """A call or put struck at ``strike`` that is knocked in or out when the spot touches ``barrier`` at a
    monitoring date t_0 .. t_n (``direction`` "up": S >= barrier; "down": S <= barrier). ``rebate`` is paid at
    maturity to a knocked-out option (or an in-option never knocked in)."""

    strike: float
    barrier: float
    direction: Literal["up", "down"]
    knock: Literal["in", "out"]
    kind: Kind = "call"
    rebate: float = 0.0

    def __post_init__(self) -> None:
        _positive(self.strike, "strike", "BarrierOption")
        _positive(self.barrier, "barrier", "BarrierOption")
        _kind(self.kind, "BarrierOption")
        if self.direction not in ("up", "down") or self.knock not in ("in", "out"):
            raise QfinError(f"BarrierOption: direction must be 'up' or 'down' and knock 'in' or 'out', got "
                            f"{self.direction!r}, {self.knock!r}")
        if not (isinstance(self.rebate, (int, float)) and self.rebate >= 0):
            raise QfinError(f"BarrierOption: rebate must be a number >= 0, got {self.rebate!r}")

    def check_spot(self, spot: float) -> None:
        """Refuse a barrier already crossed today (an up barrier at or below the spot, a down one at or above)."""
        crossed = spot >= self.barrier if self.direction == "up" else spot <= self.barrier
        if crossed:
            side = "above" if self.direction == "up" else "below"
            raise QfinError(f"BarrierOption: {'an up' if self.direction == 'up' else 'a down'} barrier must lie {side} "
                            f"today's spot {spot:g}; got "
                            f"barrier {self.barrier:g}")

    def __call__(self, paths: Any) -> np.ndarray:
        p = _paths(paths)
        self.check_spot(float(p[0, 0]))
        hit = (p.max(axis=1) >= self.barrier) if self.direction == "up" else (p.min(axis=1) <= self.barrier)
        alive = hit if self.knock == "in" else ~hit
        return np.where(alive, _intrinsic(p[:, -1], self.strike, self.kind), self.rebate)


def check_payoff(payoff: Any, paths: Any) -> np.ndarray:
    """``payoff(paths)`` as [n_paths] finite float64, or one :class:`QfinError` line saying what came back."""
    if not callable(payoff):
        raise QfinError(f"a payoff must be callable as payoff(paths) -> [n_paths]; got {type(payoff).__name__}")
    p = _paths(paths)
    try:
        values = np.asarray(payoff(p), dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise QfinError(f"payoff {payoff!r} did not return numbers: {err}") from None
    if values.shape != (p.shape[0],):
        raise QfinError(f"payoff {payoff!r} returned shape {values.shape}; expected ({p.shape[0]},), one value per "
                        "path")
    if not np.all(np.isfinite(values)):
        bad = int(np.argmax(~np.isfinite(values)))
        raise QfinError(f"payoff {payoff!r} returned a non-finite value ({values[bad]}) on path {bad}")
    return values
