"""Deep hedging (Buehler, Gonon, Teichmann & Wood 2019, Quantitative Finance 19(8)) with an LSTM or MLP policy.

The policy sees, at each rebalancing date t_i, the normalised log-moneyness log(S/K) / sqrt(theta T), the time
to maturity tau / T, the variance v / theta, the state the claim's payoff depends on (running maximum, minimum or
average, barrier touched: :mod:`qfin.hedging._features`, causal) and its previous positions h_{i-1}, and outputs
the positions h_i, one per hedging instrument of the market (:mod:`qfin.hedging._instruments`); it is unrolled
step by step (the previous positions feed back) over the paths, and the P&L comes from the shared,
differentiable :func:`qfin.data.simulate.hedging_pnl` (per instrument, each at its own cost).
:class:`MLPHedger` (``HedgerConfig(model="mlp")``) is
the feed-forward variant in the shape of pfhedge's ``MultiLayerPerceptron``, whose only memory is the previous
hedge. Losses: entropic risk (Föllmer–Schied), CVaR through the Rockafellar–Uryasev function with a learned
threshold, and mean–variance. Trained with Adam or :class:`qfin.optim.KFAC` from the same initialisation on the
same paths.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.simulate import hedging_pnl
from ..optim import KFAC
from ..risk import entropic_risk, rockafellar_uryasev
from ._baselines import HedgingMarket
from ._config import HedgerConfig
from ._features import n_state_features, state_features
from ._instruments import portfolio_pnl

__all__ = [
    "LSTMHedger",
    "MLPHedger",
    "TrainResult",
    "build_hedger",
    "hedge_with",
    "hedged_pnl",
    "hedger_for",
    "hedger_loss",
    "indifference_price",
    "train_hedger",
]



def _known_features(spot: torch.Tensor, variance: torch.Tensor, strike: float, maturity: float, theta: float,
                    extra: torch.Tensor | None) -> torch.Tensor:
    """The features that do not depend on the policy, on every decision date: [n_paths, n_steps, 3 + k]."""
    n_paths, n_dates = spot.shape
    n_steps = n_dates - 1
    scale = math.sqrt(theta * maturity)
    tau = 1.0 - torch.arange(n_steps, dtype=spot.dtype) / n_steps
    known = torch.stack([torch.log(spot[:, :-1] / strike) / scale, tau.expand(n_paths, n_steps),
                         variance[:, :-1] / theta], dim=2)
    return known if extra is None or extra.shape[2] == 0 else torch.cat([known, extra.to(known.dtype)], dim=2)


class LSTMHedger(nn.Module):
    """LSTM policy: features -> LSTM(hidden) -> Linear -> one position per instrument, one call per date.

    Features at t_i: log(S/K) / sqrt(theta T), tau / T, v / theta, then ``n_state`` claim-state features
    (:func:`qfin.hedging._features.state_features`, passed as ``extra``), then the previous positions.
    """

    def __init__(self, hidden: int = 32, n_state: int = 0, n_instruments: int = 1) -> None:
        super().__init__()
        self.n_instruments = n_instruments
        self.lstm = nn.LSTM(3 + n_state + n_instruments, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_instruments)

    def forward(self, spot: torch.Tensor, variance: torch.Tensor, strike: float, maturity: float,
                theta: float, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Hedges [n_paths, n_steps] (one instrument) or [n_paths, n_steps, m] from spot and variance
        [n_paths, n_steps + 1] and ``extra`` [n_paths, n_steps, n_state]; step i uses column i only."""
        n_paths, n_dates = spot.shape
        n_steps = n_dates - 1
        m = self.n_instruments
        if m == 1 and extra is None:  # the original single-instrument unroll, number for number
            scale = math.sqrt(theta * maturity)
            h = spot.new_zeros(n_paths)
            state = None
            hedges = []
            for i in range(n_steps):
                feats = torch.stack([torch.log(spot[:, i] / strike) / scale,
                                     spot.new_full((n_paths,), 1.0 - i / n_steps),
                                     variance[:, i] / theta, h], dim=1)
                out, state = self.lstm(feats[:, None, :], state)
                h = self.head(out[:, 0]).squeeze(1)
                hedges.append(h)
            return torch.stack(hedges, dim=1)
        known = _known_features(spot, variance, strike, maturity, theta, extra)
        h = spot.new_zeros(n_paths, m)
        state = None
        hedges = []
        for i in range(n_steps):
            out, state = self.lstm(torch.cat([known[:, i], h], dim=1)[:, None, :], state)
            h = self.head(out[:, 0])
            hedges.append(h)
        out = torch.stack(hedges, dim=1)
        return out[:, :, 0] if m == 1 else out


class MLPHedger(nn.Module):
    """Feed-forward policy: the LSTM's features -> ``layers`` x (Linear(hidden), ReLU) -> Linear -> positions.

    The defaults (4 hidden layers of 32, ReLU) are the shape of pfhedge's ``MultiLayerPerceptron``; as in pfhedge's
    ``Hedger`` with the ``prev_hedge`` input, the previous hedge is fed back, so the policy is unrolled date by date.
    """

    def __init__(self, hidden: int = 32, layers: int = 4, inplace_relu: bool = False, n_state: int = 0,
                 n_instruments: int = 1) -> None:
        super().__init__()
        self.n_instruments = n_instruments
        blocks: list[nn.Module] = []
        width = 3 + n_state + n_instruments
        for _ in range(layers):
            # in-place ReLU saves an allocation per layer and step (~10% of a training step), but it overwrites
            # the Linear outputs that K-FAC's hooks read, so only first-order optimizers get it
            blocks += [nn.Linear(width, hidden), nn.ReLU(inplace=inplace_relu)]
            width = hidden
        self.net = nn.Sequential(*blocks, nn.Linear(hidden, n_instruments))

    def forward(self, spot: torch.Tensor, variance: torch.Tensor, strike: float, maturity: float,
                theta: float, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Hedges [n_paths, n_steps] (one instrument) or [n_paths, n_steps, m]; step i uses column i only."""
        n_paths, n_dates = spot.shape
        n_steps = n_dates - 1
        # the features that do not depend on the policy, for every decision date at once
        known = _known_features(spot, variance, strike, maturity, theta, extra)
        h = spot.new_zeros(n_paths, self.n_instruments)
        hedges = []
        for i in range(n_steps):
            h = self.net(torch.cat([known[:, i], h], dim=1))
            hedges.append(h)
        if self.n_instruments == 1:
            return torch.cat(hedges, dim=1)
        return torch.stack(hedges, dim=1)


def build_hedger(config: HedgerConfig, n_state: int = 0, n_instruments: int = 1) -> LSTMHedger | MLPHedger:
    """The untrained policy network ``config.model`` asks for (torch's global seed sets its initialisation), with
    ``n_state`` claim-state features and one output per instrument."""
    if config.model == "mlp":
        return MLPHedger(config.hidden, config.layers, inplace_relu=config.optimizer != "kfac", n_state=n_state,
                         n_instruments=n_instruments)
    return LSTMHedger(config.hidden, n_state=n_state, n_instruments=n_instruments)


def hedger_for(market: HedgingMarket, config: HedgerConfig) -> LSTMHedger | MLPHedger:
    """:func:`build_hedger` sized for ``market``'s claim state and instruments."""
    return build_hedger(config, n_state_features(market.claim), len(market.instruments))


@dataclass
class TrainResult:
    """Trained model, threshold (CVaR only) and per-iteration history (loss, seconds since start)."""

    model: LSTMHedger | MLPHedger
    threshold: torch.Tensor | None
    losses: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped: str | None = None


def hedger_loss(pnl: torch.Tensor, config: HedgerConfig, threshold: torch.Tensor | None = None) -> torch.Tensor:
    """The training risk of a P&L sample [N] (lower is better), using qfin.risk's definitions."""
    if config.loss == "entropic":
        return entropic_risk(pnl, config.risk_aversion)
    if config.loss == "cvar":
        return rockafellar_uryasev(-pnl, threshold, config.cvar_level)
    return -pnl.mean() + 0.5 * config.risk_aversion * pnl.var()


def _curvature_weights(pnl: torch.Tensor, config: HedgerConfig) -> torch.Tensor:
    """Diagonal of the loss Hessian in the P&L times N: the output curvature K-FAC's Gauss–Newton uses.

    Entropic: N lambda p_n (p = softmax(-lambda X), the rank-one term dropped); mean–variance: 2 a / 2 = a;
    CVaR is piecewise linear (zero Hessian), so a unit weight (the P&L's own Gauss–Newton) is used.
    """
    n = pnl.shape[0]
    if config.loss == "entropic":
        return n * config.risk_aversion * torch.softmax(-config.risk_aversion * pnl.detach(), dim=0)
    if config.loss == "mean_variance":
        return torch.full_like(pnl, config.risk_aversion)
    return torch.ones_like(pnl)


@dataclass
class _Batchable:
    """The market as float32 tensors: spot, variance, payoff, claim state (or None), prices (or None)."""

    spot: torch.Tensor
    var: torch.Tensor
    payoff: torch.Tensor
    extra: torch.Tensor | None
    prices: torch.Tensor | None


def _tensors(market: HedgingMarket) -> _Batchable:
    spot = torch.as_tensor(market.spot, dtype=torch.float32)
    var = torch.as_tensor(market.variance, dtype=torch.float32)
    payoff = torch.as_tensor(market.payoff, dtype=torch.float32)
    extra = None
    if n_state_features(market.claim):
        scale = math.sqrt(market.params.theta * market.maturity)
        extra = torch.as_tensor(state_features(market.claim, market.spot, market.strike, scale), dtype=torch.float32)
    prices = None if market.only_underlying else torch.as_tensor(market.prices, dtype=torch.float32)
    return _Batchable(spot, var, payoff, extra, prices)


def _policy(model: LSTMHedger | MLPHedger, data: _Batchable, market: HedgingMarket,
            idx: torch.Tensor | None = None) -> torch.Tensor:
    take = (lambda t: t) if idx is None else (lambda t: t[idx])
    extra = None if data.extra is None else take(data.extra)
    return model(take(data.spot), take(data.var), market.strike, market.maturity, market.params.theta, extra)


def _pnl(data: _Batchable, hedge: torch.Tensor, market: HedgingMarket, premium: float, config: HedgerConfig,
         idx: torch.Tensor | None = None) -> torch.Tensor:
    take = (lambda t: t) if idx is None else (lambda t: t[idx])
    if data.prices is None:
        return hedging_pnl(take(data.spot), hedge, take(data.payoff), premium, market.costs(config.cost)[0],
                           config.liquidate).pnl
    hedge = hedge if hedge.ndim == 3 else hedge[:, :, None]
    return portfolio_pnl(take(data.prices), hedge, take(data.payoff), premium, market.costs(config.cost),
                         config.liquidate)[0]


def train_hedger(market: HedgingMarket, config: HedgerConfig, premium: float = 0.0,
                 init: dict[str, torch.Tensor] | None = None,
                 progress: Callable[[], None] | None = None) -> TrainResult:
    """Train the ``config.model`` hedger on the paths of ``market`` (mini-batches drawn with ``config.seed``).

    The policy sees the claim's path state and outputs one position per instrument of ``market``. ``init`` is a
    state dict to start from (the same initialisation for Adam and K-FAC); ``progress`` is called after each
    iteration (a :func:`qfin.progress.progress_bar` callback). A non-finite loss stops training with a
    RuntimeWarning; the model keeps (and ``config.checkpoint`` holds) the last good parameters.
    """
    torch.manual_seed(config.seed)
    model = hedger_for(market, config)
    if init is not None:
        model.load_state_dict(init)
    threshold = torch.zeros((), requires_grad=True) if config.loss == "cvar" else None
    extra = [threshold] if threshold is not None else []
    if config.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(list(model.parameters()) + extra, lr=config.lr)
    else:
        opt = KFAC(model, lr=config.lr, damping=config.damping, kl_clip=config.kl_clip, inverse_every=5,
                   factor_decay=0.95, extra_params=extra)
    data = _tensors(market)
    gen = torch.Generator().manual_seed(config.seed)
    result = TrainResult(model, threshold)
    good = copy.deepcopy(model.state_dict())
    start = time.perf_counter()
    for it in range(config.iterations):
        idx = torch.randint(0, data.spot.shape[0], (config.batch_size,), generator=gen)
        opt.zero_grad()
        if isinstance(opt, KFAC):
            with opt.capture():
                hedge = _policy(model, data, market, idx)
        else:
            hedge = _policy(model, data, market, idx)
        finite = bool(torch.isfinite(hedge).all())
        if finite:
            pnl = _pnl(data, hedge, market, premium, config, idx)
            loss = hedger_loss(pnl, config, threshold)
            finite = bool(torch.isfinite(loss))
        if not finite:
            model.load_state_dict(good)
            if config.checkpoint:  # it held the last multiple of 50; the docstring promises the last good ones
                _save(good, config.checkpoint)
            result.stopped = f"non-finite loss at iteration {it}; kept the parameters of iteration {it - 1}"
            warnings.warn(f"train_hedger: {result.stopped}", RuntimeWarning, stacklevel=2)
            break
        good = copy.deepcopy(model.state_dict())
        if config.checkpoint and (it % 50 == 0 or it == config.iterations - 1):
            _save(good, config.checkpoint)
        if isinstance(opt, KFAC):
            loss.backward(retain_graph=True)
            opt.accumulate_curvature(pnl, _curvature_weights(pnl, config))
        else:
            loss.backward()
        opt.step()
        result.losses.append(float(loss.detach()))
        result.seconds.append(time.perf_counter() - start)
        if progress is not None:
            progress()
    return result


def _save(state: dict[str, torch.Tensor], path: str) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(target)


@torch.no_grad()
def hedge_with(model: LSTMHedger | MLPHedger, market: HedgingMarket) -> np.ndarray:
    """The trained policy's positions on ``market`` (float64): [n_paths, n_steps] for one instrument, else
    [n_paths, n_steps, n_instruments]."""
    return _policy(model, _tensors(market), market).double().numpy()


def hedged_pnl(market: HedgingMarket, hedge: np.ndarray, premium: float, cost: float,
               liquidate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pnl, costs, turnover) in float64 of positions ``hedge`` in ``market``'s instruments (instruments without a
    cost of their own at ``cost``)."""
    if market.only_underlying:
        r = hedging_pnl(market.spot, hedge, market.payoff, premium, market.costs(cost)[0], liquidate)
        return r.pnl, r.costs, r.turnover
    hedge = hedge if hedge.ndim == 3 else hedge[:, :, None]
    return portfolio_pnl(market.prices, hedge, market.payoff, premium, market.costs(cost), liquidate)


def indifference_price(model: LSTMHedger | MLPHedger, market: HedgingMarket, config: HedgerConfig) -> float:
    """Seller's indifference price under the entropic risk: rho(hedged P&L without premium) - rho(no trade).

    Entropic risk is cash invariant (rho(X + c) = rho(X) - c) and doing nothing has risk 0, so the premium that
    makes selling the hedged option as good as not selling it is rho(X_0) (Buehler et al. 2019, §3.1 eq. 3.2).
    """
    pnl, _, _ = hedged_pnl(market, hedge_with(model, market), 0.0, config.cost, config.liquidate)
    return float(entropic_risk(pnl, config.risk_aversion))
