"""HedgingEnv: hedge a short European option with the underlying over N rebalancing dates, with costs.

Paths come from :func:`qfin.data.simulate.gbm` or :func:`qfin.data.simulate.heston` (zero rate, so prices are
already discounted); the P&L pieces come from the shared simulator :mod:`qfin.data.simulate._hedging`
(:func:`~qfin.data.simulate.hedging_increment`, :func:`~qfin.data.simulate.hedging_terminal`), so the per-step
rewards of an episode sum to :func:`~qfin.data.simulate.hedging_pnl` of the same path and hedges.

At decision date t = 0 .. N-1 the agent sees ``[log(S_t / K), tau_t, (v_t,) (claim state,) h_{t-1}]`` (float32;
tau_t = T - t dt the time to maturity in years; the variance v_t only under Heston; the claim state only for a
path-dependent payoff) and answers with the new hedge ratio h_t
(units of the underlying per option, held over (t, t+1]).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from qfin.data.simulate import HestonParams, gbm, hedging_increment, hedging_terminal, heston
from qfin.data.simulate._path_state import n_state_features, state_features
from qfin.data.simulate._payoffs import check_payoff
from qfin.envs._checks import finite_number, no_render_mode
from qfin.errors import QfinError

__all__ = ["HedgingEnv"]

_OBJECTIVES = ("pnl", "entropic", "mean_variance")
_ENTROPIC_CAP = 50.0
"""The entropic reward is the exact exponential utility while ``risk_aversion * loss <= 50`` (a loss weighted up
to e^50 ~ 5e21 times a gain) and its tangent line beyond, so it stays finite (within float32, which
Stable-Baselines3's buffers store) and still falls with every extra unit of loss; ``exp`` alone overflows at
``risk_aversion * loss > 709.78``."""
_PREMIUM_CACHE: dict[tuple, float] = {}


@dataclass(frozen=True)
class VanillaPayoff:
    """max(S - K, 0) for a call, max(K - S, 0) for a put, on spot paths [n, N + 1] (their last column): a
    module-level callable, so the environment pickles; the same numbers as :class:`qfin.data.simulate.Vanilla`."""

    kind: str
    strike: float

    def __call__(self, paths: np.ndarray) -> np.ndarray:
        spot = np.asarray(paths, dtype=np.float64)[:, -1]
        return np.maximum(spot - self.strike, 0.0) if self.kind == "call" else np.maximum(self.strike - spot, 0.0)


def entropic_reward(pnl: float, risk_aversion: float) -> float:
    """Exponential utility ``(1 - exp(-a pnl)) / a`` of a terminal P&L, continued by its tangent line where
    ``a * loss`` exceeds :data:`_ENTROPIC_CAP` (see there): finite for every finite P&L, increasing in the P&L."""
    z = -risk_aversion * pnl  # a times the loss
    if z <= _ENTROPIC_CAP:
        return -math.expm1(z) / risk_aversion
    return -(math.expm1(_ENTROPIC_CAP) + math.exp(_ENTROPIC_CAP) * (z - _ENTROPIC_CAP)) / risk_aversion


class HedgingEnv(gym.Env):
    """Hedge a short European option (registered ``qfin/Hedging-v0``).

    Parameters
    ----------
    model : ``"gbm"`` or ``"heston"``.
    s0, strike, maturity : initial price, strike, maturity in years.
    n_steps : rebalancing dates N (dt = maturity / N).
    kind : ``"call"`` or ``"put"``; or ``payoff``: any payoff of :mod:`qfin.data.simulate` (Asian, lookback,
        barrier, ...) or any callable mapping spot paths [n, N + 1] to payoffs [n] (then ``kind`` is ignored). A
        path-dependent payoff adds its state to the observation (running max/min, running average, barrier hit:
        :func:`qfin.data.simulate._path_state.state_features` in raw logs, computed from the path up to t).
    mu, sigma : GBM drift and volatility per year.
    heston : :class:`qfin.data.simulate.HestonParams` (or a dict of its five fields) for ``model="heston"``.
    cost : proportional cost rate on traded value (the first buy and the final liquidation are charged).
    premium : cash received at t = 0 for the option; ``None`` uses the Monte Carlo mean payoff on
        ``premium_paths`` paths of the model (seed 0; the zero-rate price when ``mu = 0``).
    objective : ``"pnl"`` pays the P&L increments (undiscounted sum = hedged P&L); ``"entropic"`` pays 0 until
        maturity, then the exponential utility ``(1 - exp(-risk_aversion * pnl)) / risk_aversion`` (maximising its
        mean minimises the entropic risk of the P&L, :func:`qfin.risk.entropic_risk`; past ``risk_aversion * loss = 50``
        it continues linearly, :func:`entropic_reward`, so huge losses give finite rewards); ``"mean_variance"`` pays
        ``pnl - risk_aversion / 2 * pnl^2`` at maturity (mean minus lambda/2 times the second moment).
    max_hedge : the action space is ``Box(-max_hedge, max_hedge)``; hedges outside it are used unclipped.
    path_batch : paths simulated at once and consumed one per episode.
    render_mode : Gymnasium's rendering switch; only ``None`` (the environment draws nothing).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, model: str = "gbm", *, s0: float = 100.0, strike: float = 100.0, maturity: float = 30 / 365,
                 n_steps: int = 30, kind: str = "call", payoff: Callable[[np.ndarray], np.ndarray] | None = None,
                 mu: float = 0.0, sigma: float = 0.2, heston: HestonParams | dict[str, float] | None = None,
                 cost: float = 0.0, premium: float | None = None, objective: str = "pnl",
                 risk_aversion: float = 1.0, max_hedge: float = 1.5, path_batch: int = 256,
                 premium_paths: int = 100_000, render_mode: str | None = None) -> None:
        no_render_mode(render_mode, "HedgingEnv")
        super().__init__()
        if model not in ("gbm", "heston"):
            raise QfinError(f"model must be 'gbm' or 'heston'; got {model!r}")
        self.model = model
        self.s0 = finite_number(s0, "s0", low=0.0, low_open=True)
        self.strike = finite_number(strike, "strike", low=0.0, low_open=True)
        self.maturity = finite_number(maturity, "maturity", low=0.0, low_open=True)
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise QfinError(f"n_steps must be an integer >= 1; got {n_steps!r}")
        self.n_steps = int(n_steps)
        self.dt = self.maturity / self.n_steps
        self.kind = kind if payoff is None else "custom"
        if payoff is None:
            if kind not in ("call", "put"):
                raise QfinError(f"kind must be 'call' or 'put' (or pass payoff=callable); got {kind!r}")
            payoff = VanillaPayoff(kind, self.strike)
        elif not callable(payoff):
            raise QfinError(f"payoff must be a qfin payoff or a callable of spot paths [n, N + 1] -> [n]; got "
                            f"{payoff!r}")
        self.payoff = payoff
        self._n_state = n_state_features(payoff)
        self.mu = finite_number(mu, "mu")
        self.sigma = finite_number(sigma, "sigma", low=0.0)
        if model == "heston":
            if heston is None:
                raise QfinError("model='heston' needs heston=HestonParams(v0, kappa, theta, sigma, rho) or a dict")
            if not isinstance(heston, HestonParams):
                fields = {"v0", "kappa", "theta", "sigma", "rho"}
                if not isinstance(heston, dict) or set(heston) != fields:
                    raise QfinError(f"heston must be a HestonParams or a dict with exactly the keys {sorted(fields)}; "
                                    f"got {heston!r}")
                heston = HestonParams(**heston)
            self.heston = heston
        else:
            self.heston = None
        self.cost = finite_number(cost, "cost", low=0.0)
        if objective not in _OBJECTIVES:
            raise QfinError(f"objective must be one of {_OBJECTIVES}; got {objective!r}")
        self.objective = objective
        self.risk_aversion = finite_number(risk_aversion, "risk_aversion", low=0.0, low_open=True)
        self.max_hedge = finite_number(max_hedge, "max_hedge", low=0.0, low_open=True)
        if isinstance(path_batch, bool) or not isinstance(path_batch, (int, np.integer)) or path_batch < 1:
            raise QfinError(f"path_batch must be an integer >= 1; got {path_batch!r}")
        self.path_batch = int(path_batch)
        if hasattr(self.payoff, "check_spot"):
            self.payoff.check_spot(self.s0)
        check_payoff(self.payoff, self.s0 * np.exp(np.outer([0.0, 0.1, -0.1], np.linspace(0.0, 1.0,
                                                                                           self.n_steps + 1))))
        if premium is None:
            if isinstance(premium_paths, bool) or not isinstance(premium_paths, (int, np.integer)) \
                    or premium_paths < 2:
                raise QfinError(f"premium_paths must be an integer >= 2; got {premium_paths!r}")
            premium = self._monte_carlo_premium(int(premium_paths))
        self.premium = finite_number(premium, "premium")

        n_obs = (4 if model == "heston" else 3) + self._n_state
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(n_obs,), dtype=np.float32)
        self.action_space = spaces.Box(-self.max_hedge, self.max_hedge, shape=(1,), dtype=np.float32)
        self._paths: tuple[np.ndarray, np.ndarray | None] | None = None
        self._next_path = 0
        self._spot = np.full(self.n_steps + 1, self.s0)
        self._var: np.ndarray | None = None
        self._t, self._hedge, self._pnl = self.n_steps, 0.0, 0.0  # step() before reset() is an error

    def _monte_carlo_premium(self, n_paths: int) -> float:
        """Mean payoff on ``n_paths`` seeded paths, cached per model and contract (vector envs build many copies)."""
        key = (self.model, self.s0, self.strike, self.maturity, self.n_steps, self.mu, self.sigma, self.heston,
               self.kind, self.payoff if self.kind == "custom" else None, n_paths)
        if key not in _PREMIUM_CACHE:
            spot, _ = self._simulate(n_paths, np.random.default_rng(0))
            _PREMIUM_CACHE[key] = float(np.mean(self.payoff(spot)))
        return _PREMIUM_CACHE[key]

    def _simulate(self, n_paths: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        if self.model == "gbm":
            return gbm(self.s0, self.mu, self.sigma, self.maturity, self.n_steps, n_paths, seed=gen), None
        return heston(self.s0, maturity=self.maturity, n_steps=self.n_steps, n_paths=n_paths, seed=gen,
                      return_variance=True, params=self.heston)

    def _observation(self) -> np.ndarray:
        t = self._t
        feats = [math.log(self._spot[t] / self.strike), self.maturity - t * self.dt]
        if self._var is not None:
            feats.append(self._var[t])
        if self._n_state:
            feats.extend(self._state[t])
        feats.append(self._hedge)
        return np.array(feats, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Draw the next simulated path; ``options={"path": spot [N + 1]}`` (and ``"variance"``) replays a given one."""
        super().reset(seed=seed)
        if seed is not None:
            self._paths = None  # a seeded reset restarts the path stream
        if options and "path" in options:
            spot = np.asarray(options["path"], dtype=np.float64)
            if spot.shape != (self.n_steps + 1,) or not np.all(np.isfinite(spot)) or np.any(spot <= 0):
                raise QfinError(f"options['path'] must be {self.n_steps + 1} positive finite prices")
            self._spot = spot
            self._var = None if self.model == "gbm" else np.asarray(options["variance"], dtype=np.float64)
        else:
            if self._paths is None or self._next_path >= self.path_batch:
                self._paths = self._simulate(self.path_batch, self.np_random)
                self._next_path = 0
            spots, variances = self._paths
            self._spot = spots[self._next_path]
            self._var = None if variances is None else variances[self._next_path]
            self._next_path += 1
        if self._n_state:  # causal: the row of date t reads the path up to t (the last date repeated for t = N)
            self._state = state_features(self.payoff, np.append(self._spot, self._spot[-1])[None, :], self.strike,
                                         1.0)[0]
        self._t, self._hedge, self._pnl = 0, 0.0, 0.0
        return self._observation(), {"spot": float(self._spot[0])}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._t >= self.n_steps:
            raise QfinError("the episode is over (or was never started): call reset() before step()")
        h = float(np.asarray(action, dtype=np.float64).reshape(-1)[0])
        if not math.isfinite(h):
            raise QfinError(f"action (the hedge ratio) must be finite; got {action!r}")
        t = self._t
        increment = hedging_increment(self._spot[t], self._spot[t + 1], self._hedge, h, self.cost)
        if t == 0:
            increment += self.premium
        terminated = t + 1 == self.n_steps
        info: dict[str, Any] = {"spot": float(self._spot[t + 1]), "hedge": h}
        if terminated:
            payoff = float(np.asarray(self.payoff(self._spot[None, :]), dtype=np.float64)[0])
            increment += hedging_terminal(self._spot[-1], h, payoff, self.cost)
            info["payoff"] = payoff
        self._pnl += increment
        self._hedge, self._t = h, t + 1
        if self.objective == "pnl":
            reward = increment
        elif not terminated:
            reward = 0.0
        elif self.objective == "entropic":
            reward = entropic_reward(self._pnl, self.risk_aversion)
        else:
            reward = self._pnl - 0.5 * self.risk_aversion * self._pnl ** 2
        if terminated:
            info["pnl"] = self._pnl
        obs = self._observation() if not terminated else self._terminal_observation()
        return obs, float(reward), terminated, False, info

    def _terminal_observation(self) -> np.ndarray:
        self._t = self.n_steps
        return self._observation()
