"""PortfolioEnv: allocate a portfolio of N assets plus cash on real prices, net of proportional costs.

Observation (built once as one float64 array, sliced per step, no pandas in ``step``): float32
``[features, assets, window]``, the last ``window`` bars up to and including t's close, each asset divided by
its own close at t (so the last column of the close feature is 1) — Jiang et al. (2017) §3.2's price tensor,
"image-like" for a CNN over assets x time. With ``include_weights`` it is a Dict ``{"prices": ..., "weights":
[N + 1]}`` holding the drifted (pre-trade) weights as well.

Action: N + 1 logits (cash first), mapped to weights by :func:`logits_to_weights`: long-only, a softmax of
``softmax_scale * logits`` (optionally capped per asset); long/short, risky weights with gross exposure at most
``leverage``. The action space is ``Box(-1, 1)`` for agents' convenience (Stable-Baselines3 needs finite bounds),
but any finite logits are accepted and mapped unclipped, so the softmax never sees clipped values.

Episode end (Gymnasium's two flags): ``terminated`` when the step reaches the last bar of the span (the end of
the data the environment trades: there is no next price to step into), ``truncated`` when a random training
window (``episode_length``) runs out before that: a time limit outside the market's dynamics, so agents
bootstrap the value of the state the window stopped in (Stable-Baselines3 reads ``TimeLimit.truncated``).

Dynamics, costs and the first buy from cash: :mod:`qfin.envs._dynamics` (the backtest engine's cost model).
Rewards: :mod:`qfin.envs._rewards`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from qfin.costs import CostMethod
from qfin.data import MarketPanel, price_panel
from qfin.envs._checks import finite_number, no_render_mode
from qfin.errors import DataValidationError, QfinError

from . import _kernels
from ._rewards import make_reward

__all__ = ["PortfolioEnv", "logits_to_weights", "price_features", "price_observation"]

_BAR_FEATURES = ("close", "open", "high", "low")  # prices only: each is divided by the last close


def price_features(panel: MarketPanel, features: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The observed fields (default ``("close",)``): ``close`` first, then any of open/high/low the panel has."""
    features = tuple(features or ("close",))
    if not features or features[0] != "close" or any(f not in _BAR_FEATURES for f in features):
        raise QfinError(f"features={features!r}: the first must be 'close' and all of them among "
                        f"{list(_BAR_FEATURES)}")
    missing = [f for f in features if f not in panel.fields]
    if missing:
        raise QfinError(f"features={features!r}: {panel.source} has no {', '.join(missing)} (it holds "
                        f"{', '.join(panel.fields)}); pass multi-symbol Bars (with open/high/low/volume) for more "
                        "features")
    return features


def _price_tensor(panel: MarketPanel, features: tuple[str, ...]) -> np.ndarray:
    """[F, N, T] float64, C-contiguous: the layout of the observation kernel (feature, asset, time)."""
    return np.ascontiguousarray(np.stack([panel.field(f).T for f in features]))


def price_observation(panel: MarketPanel, features: tuple[str, ...], window: int) -> np.ndarray:
    """The :class:`PortfolioEnv` price tensor at the panel's last bar t: float32 [F, N, window], the last
    ``window`` bars up to t, each asset divided by its close at t (what the env observes at t)."""
    if panel.n_bars < window:
        raise QfinError(f"window={window} needs {window} bars up to the decision; the panel has {panel.n_bars}")
    out = np.empty((len(features), panel.n_assets, window), dtype=np.float32)
    recent = panel.window(panel.n_bars - 1, window)
    _kernels.fill_observation(_price_tensor(recent, features), window - 1, window, out)
    return out


def logits_to_weights(logits: np.ndarray, *, long_only: bool = True, softmax_scale: float = 1.0,
                      leverage: float = 1.0, max_weight: float | None = None) -> np.ndarray:
    """Map N + 1 logits (cash first) to weights summing to one.

    Long-only: ``w = softmax(softmax_scale * logits)`` on the simplex; with ``max_weight`` each risky weight
    is capped and the excess handed to the uncapped entries in proportion (cash is never capped, so the caps
    always fit). Long/short: risky ``u_i = leverage * a_i / (|a_0| + sum_j |a_j|)`` (gross exposure <= leverage,
    |a_0| sets how much stays uninvested), clipped to ``[-max_weight, max_weight]``, cash = 1 - sum u.
    """
    a = np.ascontiguousarray(logits, dtype=np.float64).reshape(-1)
    w = np.empty_like(a)
    cap = np.inf if max_weight is None else float(max_weight)
    if not _kernels.weights_from_logits(a, bool(long_only), float(softmax_scale), float(leverage), cap, w):
        raise QfinError(f"logits must be finite; got {a.tolist()}")
    return w


class PortfolioEnv(gym.Env):
    """Gymnasium environment for portfolio allocation over N assets and cash (registered ``qfin/Portfolio-v0``).

    Parameters
    ----------
    data : dataset name (default ``"sp500_stocks"``), CSV/Parquet path, Prices or multi-symbol Bars frame, or a
        :class:`qfin.data.MarketPanel` (anything :func:`qfin.data.price_panel` loads).
    start, end : optional date bounds (inclusive, ISO strings or datetimes) of the span in which decisions are
        taken; the observation window may reach back before ``start`` (past data only).
    assets : optional subset (and order) of the assets.
    features : for Bars, which fields to stack (``close`` first); Prices give ``("close",)``.
    window : bars per observation, >= 1; the first decision needs ``window - 1`` earlier bars.
    episode_length : steps per episode from a random start (drawn from the reset seed) in the span, ended with
        ``truncated=True`` (unless it reaches the span's last bar: ``terminated``); ``None`` runs the whole span
        deterministically (evaluation) and ends with ``terminated=True``.
    buy_cost, sell_cost : proportional fee rates (>= 0; ``sell_cost`` defaults to ``buy_cost``).
    cost_method : ``"exact"`` or ``"l1"`` (:func:`qfin.costs.transaction_remainder`).
    reward, reward_params : a name of :data:`qfin.envs._rewards.REWARDS` and its parameters.
    long_only, softmax_scale, leverage, max_weight : the action mapping (:func:`logits_to_weights`).
    include_weights : add the drifted weights to the observation (Dict observation).
    initial_value : V at the episode start, all in cash (the first buy is charged).
    render_mode : Gymnasium's rendering switch; only ``None`` (the environment draws nothing).

    ``info`` after each step: ``date`` (of the realisation, t + 1, numpy datetime64), ``value`` (V_{t+1}),
    ``weights`` (drifted, at t + 1), ``target_weights`` (w_t), ``turnover``, ``costs`` (money), ``return``
    (simple, net of costs).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, data: Any = "sp500_stocks", *, start: Any = None, end: Any = None,
                 assets: list[str] | None = None, features: tuple[str, ...] | None = None, window: int = 50,
                 episode_length: int | None = None, buy_cost: float = 0.0, sell_cost: float | None = None,
                 cost_method: CostMethod = "exact", reward: str = "log_return",
                 reward_params: dict[str, Any] | None = None, long_only: bool = True, softmax_scale: float = 5.0,
                 leverage: float = 1.0, max_weight: float | None = None, include_weights: bool = False,
                 initial_value: float = 1.0, render_mode: str | None = None) -> None:
        no_render_mode(render_mode, "PortfolioEnv")
        super().__init__()
        self._reward = make_reward(reward, reward_params)
        self.reward_name = reward
        self.buy_cost = finite_number(buy_cost, "buy_cost", low=0.0)
        self.sell_cost = self.buy_cost if sell_cost is None else finite_number(sell_cost, "sell_cost", low=0.0)
        if self.sell_cost >= 1.0:
            raise QfinError(f"sell_cost must be < 1 (a fraction of traded value); got {sell_cost!r}")
        if cost_method not in ("exact", "l1"):
            raise QfinError(f"cost_method must be 'exact' or 'l1'; got {cost_method!r}")
        self.cost_method = cost_method
        self.softmax_scale = finite_number(softmax_scale, "softmax_scale", low=0.0, low_open=True)
        self.leverage = finite_number(leverage, "leverage", low=0.0, low_open=True)
        self.max_weight = None if max_weight is None else finite_number(max_weight, "max_weight", low=0.0,
                                                                         low_open=True)
        self.long_only = bool(long_only)
        self.initial_value = finite_number(initial_value, "initial_value", low=0.0, low_open=True)
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            raise QfinError(f"window must be an integer >= 1; got {window!r}")
        self.window = int(window)

        market = price_panel(data, assets=assets)
        self.timestamps, self.assets = market.timestamps, list(market.assets)
        self.features = price_features(market, features)
        self._panel = _price_tensor(market, self.features)
        if not np.all(np.isfinite(self._panel)) or np.any(self._panel <= 0):
            raise DataValidationError("prices must be finite and positive (the environment divides by them)",
                                      rule="non_positive_price")
        n_bars = self._panel.shape[2]
        first = self.window - 1
        if start is not None:
            first = max(first, int(np.searchsorted(self.timestamps, np.datetime64(start), side="left")))
        last = n_bars - 1
        if end is not None:
            last = min(last, int(np.searchsorted(self.timestamps, np.datetime64(end), side="right")) - 1)
        if last - first < 1:
            raise QfinError(f"window={self.window} needs {self.window} bars of history and the span needs at least "
                            f"one step after them; the data has {n_bars} bars, of which the span "
                            f"[{start}, {end}] leaves {max(last - first, 0)} steps. Use a shorter window or a "
                            f"longer span.")
        self._first, self._last = first, last
        if episode_length is not None and (isinstance(episode_length, bool)
                                           or not isinstance(episode_length, (int, np.integer))
                                           or not 1 <= episode_length <= last - first):
            raise QfinError(f"episode_length must be an integer in [1, {last - first}] (the steps in the span) "
                            f"or None for the whole span; got {episode_length!r}")
        self.episode_length = episode_length

        # price relatives y_{t+1} = (1, p_{t+1} / p_t) for every bar, precomputed once
        close = self._panel[0].T  # [T, N]
        self._relatives = np.ones((n_bars, len(self.assets) + 1))
        self._relatives[:-1, 1:] = close[1:] / close[:-1]
        self._close = close

        n_assets = len(self.assets)
        price_space = spaces.Box(0.0, np.inf, shape=(len(self.features), n_assets, self.window), dtype=np.float32)
        self.include_weights = bool(include_weights)
        if self.include_weights:
            low = 0.0 if self.long_only else -np.inf
            self.observation_space = spaces.Dict({
                "prices": price_space,
                "weights": spaces.Box(low, np.inf, shape=(n_assets + 1,), dtype=np.float32)})
        else:
            self.observation_space = price_space
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n_assets + 1,), dtype=np.float32)
        self._t = self._start = self._stop = first
        self._n_weights = n_assets + 1
        self._price_shape = (len(self.features), n_assets, self.window)
        self._cap = np.inf if self.max_weight is None else self.max_weight  # the kernels' "no cap"
        self._exact = cost_method == "exact"
        self._value = self.initial_value
        self._drifted = self._cash_only()

    def _cash_only(self) -> np.ndarray:
        w = np.zeros(len(self.assets) + 1)
        w[0] = 1.0
        return w

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def _observation(self) -> Any:
        prices = np.empty(self._price_shape, dtype=np.float32)
        _kernels.fill_observation(self._panel, self._t, self.window, prices)
        if self.include_weights:
            return {"prices": prices, "weights": self._drifted.astype(np.float32)}
        return prices

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Start an episode: all cash at ``initial_value``. ``options={"start": bar_index}`` fixes the start."""
        super().reset(seed=seed)
        length = self.episode_length
        if options and "start" in options:
            start = int(options["start"])
            hi = self._last - (length or 1)
            if not self._first <= start <= hi:
                raise QfinError(f"options['start'] must be a bar index in [{self._first}, {hi}]; got {start}")
        elif length is None:
            start = self._first
        else:
            start = int(self.np_random.integers(self._first, self._last - length + 1))
        self._start = self._t = start
        self._stop = self._last if length is None else start + length
        self._value = self.initial_value
        self._drifted = self._cash_only()
        self._reward.reset(self._stop - self._start)
        return self._observation(), {"date": self.timestamps[start], "value": self._value,
                                     "weights": self._drifted.copy()}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self._t >= self._stop:
            raise QfinError("the episode is over (or was never started): call reset() before step()")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape[0] != self._n_weights:
            raise QfinError(f"action must be {self._n_weights} finite logits (cash first); got shape {a.shape}")
        t = self._t
        target, drifted = np.empty(self._n_weights), np.empty(self._n_weights)
        ok, value, growth, mu, turnover = _kernels.env_step(
            a, self._drifted, self._relatives[t], self._value, self.long_only, self.softmax_scale, self.leverage,
            self._cap, self.buy_cost, self.sell_cost, self._exact, target, drifted)
        if not ok:
            raise QfinError(f"action must be {self._n_weights} finite logits (cash first); got {a.tolist()}")
        costs = self._value * (1.0 - mu)
        self._value = value
        self._drifted = drifted
        self._t = t + 1
        terminated = self._t >= self._last
        truncated = not terminated and self._t >= self._stop
        r = growth - 1.0
        reward = self._reward.step(r, terminated or truncated)
        info = {"date": self.timestamps[t + 1], "value": value, "weights": drifted.copy(),
                "target_weights": target, "turnover": turnover, "costs": costs, "return": r}
        return self._observation(), float(reward), terminated, truncated, info
