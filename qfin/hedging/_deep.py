"""Deep hedging (Buehler, Gonon, Teichmann & Wood 2019, Quantitative Finance 19(8)) with an LSTM or MLP policy.

The policy sees, at each rebalancing date t_i, the normalised log-moneyness log(S/K) / sqrt(theta T), the time
to maturity tau / T, the variance v / theta and its previous hedge h_{i-1}, and outputs the hedge h_i; it is
unrolled step by step (the previous hedge feeds back) over the paths, and the P&L comes from the shared,
differentiable :func:`qfin.data.simulate.hedging_pnl`. :class:`MLPHedger` (``HedgerConfig(model="mlp")``) is
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

__all__ = [
    "LSTMHedger",
    "MLPHedger",
    "TrainResult",
    "build_hedger",
    "hedge_with",
    "hedger_loss",
    "indifference_price",
    "train_hedger",
]



class LSTMHedger(nn.Module):
    """LSTM policy: 4 features -> LSTM(hidden) -> Linear -> hedge ratio, one call per rebalancing date."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, spot: torch.Tensor, variance: torch.Tensor, strike: float, maturity: float,
                theta: float) -> torch.Tensor:
        """Hedges [n_paths, n_steps] from spot and variance [n_paths, n_steps + 1]; step i uses column i only."""
        n_paths, n_dates = spot.shape
        n_steps = n_dates - 1
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


class MLPHedger(nn.Module):
    """Feed-forward policy: the LSTM's 4 features -> ``layers`` x (Linear(hidden), ReLU) -> Linear -> hedge ratio.

    The defaults (4 hidden layers of 32, ReLU) are the shape of pfhedge's ``MultiLayerPerceptron``; as in pfhedge's
    ``Hedger`` with the ``prev_hedge`` input, the previous hedge is fed back, so the policy is unrolled date by date.
    """

    def __init__(self, hidden: int = 32, layers: int = 4, inplace_relu: bool = False) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = 4
        for _ in range(layers):
            # in-place ReLU saves an allocation per layer and step (~10% of a training step), but it overwrites
            # the Linear outputs that K-FAC's hooks read, so only first-order optimizers get it
            blocks += [nn.Linear(width, hidden), nn.ReLU(inplace=inplace_relu)]
            width = hidden
        self.net = nn.Sequential(*blocks, nn.Linear(hidden, 1))

    def forward(self, spot: torch.Tensor, variance: torch.Tensor, strike: float, maturity: float,
                theta: float) -> torch.Tensor:
        """Hedges [n_paths, n_steps] from spot and variance [n_paths, n_steps + 1]; step i uses column i only."""
        n_paths, n_dates = spot.shape
        n_steps = n_dates - 1
        scale = math.sqrt(theta * maturity)
        # the three features that do not depend on the policy, for every decision date at once: [n_paths, n_steps, 3]
        tau = 1.0 - torch.arange(n_steps, dtype=spot.dtype) / n_steps
        known = torch.stack([torch.log(spot[:, :-1] / strike) / scale, tau.expand(n_paths, n_steps),
                             variance[:, :-1] / theta], dim=2)
        h = spot.new_zeros(n_paths, 1)
        hedges = []
        for i in range(n_steps):
            h = self.net(torch.cat([known[:, i], h], dim=1))
            hedges.append(h)
        return torch.cat(hedges, dim=1)


def build_hedger(config: HedgerConfig) -> LSTMHedger | MLPHedger:
    """The untrained policy network ``config.model`` asks for (torch's global seed sets its initialisation)."""
    if config.model == "mlp":
        return MLPHedger(config.hidden, config.layers, inplace_relu=config.optimizer != "kfac")
    return LSTMHedger(config.hidden)


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


def _tensors(market: HedgingMarket) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    spot = torch.as_tensor(market.spot, dtype=torch.float32)
    var = torch.as_tensor(market.variance, dtype=torch.float32)
    return spot, var, torch.as_tensor(market.payoff, dtype=torch.float32)


def train_hedger(market: HedgingMarket, config: HedgerConfig, premium: float = 0.0,
                 init: dict[str, torch.Tensor] | None = None) -> TrainResult:
    """Train the ``config.model`` hedger on the paths of ``market`` (mini-batches drawn with ``config.seed``).

    ``init`` is a state dict to start from (the same initialisation for Adam and K-FAC). A non-finite loss stops
    training with a RuntimeWarning; the model keeps (and ``config.checkpoint`` holds) the last good parameters.
    """
    torch.manual_seed(config.seed)
    model = build_hedger(config)
    if init is not None:
        model.load_state_dict(init)
    threshold = torch.zeros((), requires_grad=True) if config.loss == "cvar" else None
    extra = [threshold] if threshold is not None else []
    if config.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(list(model.parameters()) + extra, lr=config.lr)
    else:
        opt = KFAC(model, lr=config.lr, damping=config.damping, kl_clip=config.kl_clip, inverse_every=5,
                   factor_decay=0.95, extra_params=extra)
    spot, var, payoff = _tensors(market)
    gen = torch.Generator().manual_seed(config.seed)
    p = market.params
    result = TrainResult(model, threshold)
    good = copy.deepcopy(model.state_dict())
    start = time.perf_counter()
    for it in range(config.iterations):
        idx = torch.randint(0, spot.shape[0], (config.batch_size,), generator=gen)
        opt.zero_grad()
        if isinstance(opt, KFAC):
            with opt.capture():
                hedge = model(spot[idx], var[idx], market.strike, market.maturity, p.theta)
        else:
            hedge = model(spot[idx], var[idx], market.strike, market.maturity, p.theta)
        finite = bool(torch.isfinite(hedge).all())
        if finite:
            pnl = hedging_pnl(spot[idx], hedge, payoff[idx], premium, config.cost, config.liquidate).pnl
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
    return result


def _save(state: dict[str, torch.Tensor], path: str) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(target)


@torch.no_grad()
def hedge_with(model: LSTMHedger | MLPHedger, market: HedgingMarket) -> np.ndarray:
    """The trained policy's hedges [n_paths, n_steps] on ``market`` (float64)."""
    spot, var, _ = _tensors(market)
    return model(spot, var, market.strike, market.maturity, market.params.theta).double().numpy()


def indifference_price(model: LSTMHedger | MLPHedger, market: HedgingMarket, config: HedgerConfig) -> float:
    """Seller's indifference price under the entropic risk: rho(hedged P&L without premium) - rho(no trade).

    Entropic risk is cash invariant (rho(X + c) = rho(X) - c) and doing nothing has risk 0, so the premium that
    makes selling the hedged option as good as not selling it is rho(X_0) (Buehler et al. 2019, §3.1 eq. 3.2).
    """
    hedge = hedge_with(model, market)
    pnl = hedging_pnl(market.spot, hedge, market.payoff, 0.0, config.cost, config.liquidate).pnl
    return float(entropic_risk(pnl, config.risk_aversion))
