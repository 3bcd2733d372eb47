"""The P&L of hedging a short option with the underlying, batched over paths, in numpy or (differentiably) torch.

One implementation shared by :class:`qfin.envs.HedgingEnv` (per-step rewards) and the deep hedger
(a loss to backpropagate through). Conventions (Buehler, Gonon, Teichmann & Wood 2019, "Deep hedging",
Quantitative Finance 19(8), eq. 2.1, with proportional costs as in their §4):

- prices are discounted (zero rate), ``spot[:, t]`` on the rebalancing dates t = 0 .. n;
- ``hedge[:, t]`` is the number of units held over (t, t + 1], chosen at t from data up to t;
- trading ``|h_t - h_{t-1}|`` units at ``S_t`` costs ``cost * |h_t - h_{t-1}| * S_t`` with ``h_{-1} = 0``, so the
  initial buy is charged; with ``liquidate`` the final sale ``|h_{n-1}| * S_n`` is charged too;
- per path, ``pnl = premium + sum_t h_t (S_{t+1} - S_t) - costs - payoff``.

:func:`hedging_step_pnl` splits the same P&L into per-step increments (premium in step 0, payoff and the
liquidation cost in the last step) and :func:`hedging_pnl` is their sum; :func:`hedging_increment` and
:func:`hedging_terminal` are the two pieces the online environment calls one step at a time.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np

from ._common import invalid

__all__ = ["HedgingPnL", "hedging_increment", "hedging_pnl", "hedging_step_pnl", "hedging_terminal"]


class HedgingPnL(NamedTuple):
    """Result of :func:`hedging_pnl`, each ``[n_paths]`` (numpy float64 or tensors, following the input).

    pnl : premium + trading gains - costs - payoff.
    costs : money paid in proportional costs (``cost * turnover``).
    turnover : traded value ``sum_t |h_t - h_{t-1}| S_t`` (plus ``|h_{n-1}| S_n`` when liquidating).
    """

    pnl: Any
    costs: Any
    turnover: Any


def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")  # a tensor can only exist if the caller imported torch
    return torch is not None and isinstance(x, torch.Tensor)


def _prepare(spot: Any, hedge: Any, payoff: Any, premium: Any, cost: Any) -> tuple[Any, ...]:
    """Validate shapes and values once; return (spot, hedge, payoff, premium, cost, xp) on one backend."""
    use_torch = any(_is_tensor(a) for a in (spot, hedge, payoff, premium))
    if use_torch:
        torch = sys.modules["torch"]
        like = next(a for a in (hedge, spot, payoff, premium) if _is_tensor(a))
        dtype = like.dtype if like.is_floating_point() else torch.float64

        def conv(a: Any) -> Any:
            return a.to(dtype) if _is_tensor(a) else torch.as_tensor(np.asarray(a, dtype=np.float64),
                                                                     dtype=dtype, device=like.device)
        spot, hedge, payoff, premium = conv(spot), conv(hedge), conv(payoff), conv(premium)
        finite = [bool(torch.isfinite(a.detach()).all()) for a in (spot, hedge, payoff, premium)]
    else:
        spot, hedge, payoff, premium = (np.asarray(a, dtype=np.float64) for a in (spot, hedge, payoff, premium))
        finite = [bool(np.isfinite(a).all()) for a in (spot, hedge, payoff, premium)]
    if spot.ndim != 2 or spot.shape[1] < 2:
        raise invalid("spot", f"expected prices of shape [n_paths, n_steps + 1] with n_steps >= 1, got shape "
                              f"{tuple(spot.shape)}")
    n_paths, n_dates = spot.shape
    if tuple(hedge.shape) != (n_paths, n_dates - 1):
        raise invalid("hedge", f"expected shape [n_paths, n_steps] = {(n_paths, n_dates - 1)} (units held over "
                               f"(t, t+1]), got {tuple(hedge.shape)}")
    if tuple(payoff.shape) != (n_paths,):
        raise invalid("payoff", f"expected shape [n_paths] = ({n_paths},), got {tuple(payoff.shape)}")
    if premium.ndim > 1 or (premium.ndim == 1 and tuple(premium.shape) != (n_paths,)):
        raise invalid("premium", f"expected a scalar or shape [n_paths] = ({n_paths},), got "
                                 f"{tuple(premium.shape)}")
    for name, ok in zip(("spot", "hedge", "payoff", "premium"), finite, strict=True):
        if not ok:
            raise invalid(name, "contains NaN or infinite values; all entries must be finite")
    if isinstance(cost, bool) or not isinstance(cost, (int, float, np.integer, np.floating)) \
            or not np.isfinite(cost) or cost < 0:
        raise invalid("cost", f"expected a finite proportional rate >= 0 (e.g. 0.001 = 10 bp), got {cost!r}")
    return spot, hedge, payoff, premium, float(cost), use_torch


def _abs(x: Any, use_torch: bool) -> Any:
    return x.abs() if use_torch else np.abs(x)


def hedging_increment(s_t: Any, s_next: Any, h_prev: Any, h_t: Any, cost: float = 0.0) -> Any:
    """P&L of step t: gain ``h_t (S_{t+1} - S_t)`` minus the cost ``cost |h_t - h_{t-1}| S_t`` of trading into h_t.

    Elementwise on floats, numpy arrays or tensors (no validation: the batched entries validate).
    """
    trade = h_t - h_prev
    return h_t * (s_next - s_t) - cost * (trade.abs() if _is_tensor(trade) else np.abs(trade)) * s_t


def hedging_terminal(s_n: Any, h_last: Any, payoff: Any, cost: float = 0.0, liquidate: bool = True) -> Any:
    """P&L at maturity: minus the payoff and, with ``liquidate``, minus the cost ``cost |h_{n-1}| S_n`` of the sale."""
    if not liquidate:
        return -payoff
    return -payoff - cost * (h_last.abs() if _is_tensor(h_last) else np.abs(h_last)) * s_n


def hedging_step_pnl(spot: Any, hedge: Any, payoff: Any, premium: Any = 0.0, cost: float = 0.0,
                     liquidate: bool = True) -> Any:
    """Per-step P&L increments ``[n_paths, n_steps]`` whose row sums are the hedged P&L of :func:`hedging_pnl`.

    Column t is :func:`hedging_increment` of step t; column 0 also holds the premium and the last column the
    :func:`hedging_terminal` term. Arguments as in :func:`hedging_pnl`.
    """
    spot, hedge, payoff, premium, cost, use_torch = _prepare(spot, hedge, payoff, premium, cost)
    return _step_pnl(spot, hedge, payoff, premium, cost, liquidate, use_torch)


def _previous(hedge: Any, use_torch: bool) -> Any:
    """h_{t-1} for t = 0 .. n-1, with h_{-1} = 0 (built out of place so autograd sees no in-place op)."""
    if use_torch:
        torch = sys.modules["torch"]
        return torch.cat([torch.zeros_like(hedge[:, :1]), hedge[:, :-1]], dim=1)
    return np.concatenate([np.zeros_like(hedge[:, :1]), hedge[:, :-1]], axis=1)


def _step_pnl(spot: Any, hedge: Any, payoff: Any, premium: Any, cost: float, liquidate: bool,
              use_torch: bool) -> Any:
    steps = hedging_increment(spot[:, :-1], spot[:, 1:], _previous(hedge, use_torch), hedge, cost)
    first = steps[:, :1] + premium.reshape(-1, 1) if premium.ndim else steps[:, :1] + premium
    last = hedging_terminal(spot[:, -1], hedge[:, -1], payoff, cost, liquidate).reshape(-1, 1)
    if steps.shape[1] == 1:
        return first + last
    if use_torch:
        torch = sys.modules["torch"]
        return torch.cat([first, steps[:, 1:-1], steps[:, -1:] + last], dim=1)
    return np.concatenate([first, steps[:, 1:-1], steps[:, -1:] + last], axis=1)


def hedging_pnl(spot: Any, hedge: Any, payoff: Any, premium: Any = 0.0, cost: float = 0.0,
                liquidate: bool = True) -> HedgingPnL:
    """Terminal P&L of a short option hedged with the underlying, for many paths at once.

    Parameters
    ----------
    spot : [n_paths, n_steps + 1] discounted underlying prices on the rebalancing dates.
    hedge : [n_paths, n_steps] units held over (t, t + 1], decided at t from information up to t.
    payoff : [n_paths] what the short option pays at maturity (e.g. ``max(S_n - K, 0)``).
    premium : scalar or [n_paths], cash received at t = 0.
    cost : proportional cost rate >= 0 on traded value ``|h_t - h_{t-1}| S_t`` (``h_{-1} = 0``).
    liquidate : also charge the final sale ``|h_{n-1}| S_n`` at maturity.

    Returns
    -------
    HedgingPnL(pnl, costs, turnover), each [n_paths]: numpy float64 for numpy input; tensors when any of
    spot, hedge, payoff, premium is a tensor (differentiable w.r.t. ``hedge``; ``|.|`` has subgradient 0 at 0).
    """
    spot, hedge, payoff, premium, cost, use_torch = _prepare(spot, hedge, payoff, premium, cost)
    steps = _step_pnl(spot, hedge, payoff, premium, cost, liquidate, use_torch)
    traded = _abs(hedge - _previous(hedge, use_torch), use_torch) * spot[:, :-1]
    turnover = traded.sum(1)
    if liquidate:
        turnover = turnover + _abs(hedge[:, -1], use_torch) * spot[:, -1]
    return HedgingPnL(steps.sum(1), cost * turnover, turnover)
