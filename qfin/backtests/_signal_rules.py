"""``kind = "signal"``: positions from indicator rules (:mod:`qfin.backtests._rules`) on one or many assets.

    [[strategies]]
    kind = "signal"
    name = "rsi_reversion"
    entry = "RSI(close, 14) < 30"          # go long (from flat, or reverse a short)
    exit = "RSI(close, 14) > 55"           # back to flat
    short_entry = "RSI(close, 14) > 70"    # optional: go short (from flat, or reverse a long)
    short_exit = "RSI(close, 14) < 45"     # optional: back to flat
    sizing = "equal"                       # or "volatility" (inverse trailing volatility, vol_window bars)

Each asset is flat, long or short; a rule is read at each bar's close and the position changes there (filled by
the spec's ``execution``). A long position holds ``1 / N`` of the portfolio (N assets; "volatility": weights in
proportion to 1 / sigma over the assets, summing to one), a short the same with a minus sign; the rest is cash.
The portfolio is traded only at bars where some position changes, and then every position is set to its size
(weights drift in between). A position the rules already hold when the period starts is entered at its first
bar. The positions at a bar come from the bars up to it only, whatever the rules say.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar, Literal

import numba
import numpy as np

from qfin.data import MarketPanel
from qfin.errors import SpecError
from qfin.strategy import WeightStrategy, register_strategy

from ._order_keys import OrderKeys
from ._rules import compile_rule

__all__ = ["SignalRules", "positions_from_rules"]


def positions_from_rules(panel: MarketPanel, rules: dict[str, object]) -> np.ndarray:
    """[T, N] positions in {-1, 0, 1} from compiled ``rules`` (``entry``, ``exit``, optional ``short_entry``,
    ``short_exit``) on each asset of ``panel``; the position at bar t depends on bars <= t only."""
    out = np.zeros((panel.n_bars, panel.n_assets), dtype=np.int8)
    for j in range(panel.n_assets):
        fields = {name: getattr(panel, name)[:, j] for name in panel.fields}
        memo: dict[str, np.ndarray] = {}  # an indicator several rules read is computed once
        fired = {key: rule(fields, memo) for key, rule in rules.items() if rule is not None}
        none = np.zeros(panel.n_bars, dtype=bool)
        out[:, j] = _hold(fired.get("entry", none), fired.get("exit", none), fired.get("short_entry", none),
                          fired.get("short_exit", none))
    return out


@numba.njit(cache=True, nogil=True)
def _hold(long_in: np.ndarray, long_out: np.ndarray, short_in: np.ndarray, short_out: np.ndarray) -> np.ndarray:
    """The position after each bar: an entry opens (or reverses into) its side, an exit of the side held closes."""
    out = np.zeros(long_in.shape[0], dtype=np.int8)
    position = 0
    for t in range(long_in.shape[0]):
        if position <= 0 and long_in[t]:
            position = 1
        elif position >= 0 and short_in[t]:
            position = -1
        elif (position == 1 and long_out[t]) or (position == -1 and short_out[t]):
            position = 0
        out[t] = position
    return out


@dataclass(frozen=True, kw_only=True)
class SignalRules(OrderKeys, WeightStrategy):
    """Positions from indicator rules (module docstring); ``vol_window`` bars of returns size "volatility"; the
    order keys (``sl_stop``, ``tp_stop``, ``tsl_stop``, ``limit_entry``, ``fractional``: qfin.backtests._orders)
    trade each position as orders instead."""

    kind: ClassVar[str] = "signal"
    uses_history: ClassVar[bool] = False  # the rules read the panel; lookback (return history) does not apply

    name: str = "signal"
    entry: str | None = None
    exit: str | None = None
    short_entry: str | None = None
    short_exit: str | None = None
    sizing: Literal["equal", "volatility"] = "equal"
    vol_window: int = 63

    def _check_params(self, where: str) -> None:
        if self.entry is None and self.short_entry is None:
            raise SpecError(f"{where}: give entry (go long) and/or short_entry (go short) rules")
        if self.sizing not in ("equal", "volatility"):
            raise SpecError(f"{where}: sizing must be 'equal' or 'volatility', got {self.sizing!r}")
        if isinstance(self.vol_window, bool) or not isinstance(self.vol_window, int) or self.vol_window < 2:
            raise SpecError(f"{where}: vol_window must be a whole number of bars >= 2, got {self.vol_window!r}")
        self.orders(where)
        for key in ("entry", "exit", "short_entry", "short_exit"):
            text = getattr(self, key)
            if text is not None:
                compile_rule(text, f"{where} {key}")

    @functools.cached_property
    def rules(self) -> dict[str, object]:
        where = f"strategy {self.name!r} (signal)"
        return {key: None if getattr(self, key) is None else compile_rule(getattr(self, key), f"{where} {key}")
                for key in ("entry", "exit", "short_entry", "short_exit")}

    def weights_at(self, panel: MarketPanel) -> np.ndarray:
        return self._weights(positions_from_rules(panel, self.rules)[-1], panel)

    def decide(self, panel, decision_bars, progress=None, timestamps=None) -> np.ndarray:
        """The rules are evaluated once, on the bars up to the last decision, instead of once per decision: every
        indicator is causal, so the positions at bar b are those of the bars up to b (``check_lookahead`` holds
        this path equal to :meth:`weights_at` on each decision's own window)."""
        panel, bars = self._check_inputs(panel, decision_bars, timestamps)
        if not len(bars):
            return np.empty((0, panel.n_assets + 1))
        positions = positions_from_rules(panel.window(int(bars[-1])), self.rules)
        targets = np.empty((len(bars), panel.n_assets + 1))
        for k, bar in enumerate(bars):
            targets[k] = self._weights(positions[bar], panel.window(int(bar)))
            if progress is not None:
                progress()
        return targets

    def _weights(self, position: np.ndarray, panel: MarketPanel) -> np.ndarray:
        risky = position.astype(np.float64) * self._sizes(panel)
        return np.concatenate(([1.0 - risky.sum()], risky))

    def _sizes(self, panel: MarketPanel) -> np.ndarray:
        """Each asset's size at the panel's last bar: 1/N, or inverse trailing volatility normalised to sum one."""
        if self.sizing == "equal" or panel.n_bars <= self.vol_window:
            return np.full(panel.n_assets, 1.0 / panel.n_assets)
        close = panel.close[-self.vol_window - 1:]
        vol = np.std(close[1:] / close[:-1] - 1.0, axis=0, ddof=1)
        inverse = np.where(vol > 0, 1.0 / np.where(vol > 0, vol, 1.0), 0.0)
        return inverse / inverse.sum() if inverse.sum() > 0 else np.full(panel.n_assets, 1.0 / panel.n_assets)

    def decision_bars(self, panel: MarketPanel, candidates: np.ndarray) -> np.ndarray:
        """The first candidate bar and every later bar of the period where some position changes."""
        first = int(candidates[0])
        positions = positions_from_rules(panel, self.rules)
        changed = np.nonzero(np.any(positions[first + 1:] != positions[first:-1], axis=1))[0] + first + 1
        return np.unique(np.concatenate(([first], changed)))


register_strategy(SignalRules.kind, SignalRules)
