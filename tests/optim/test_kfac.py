"""K-FAC: exact Gauss–Newton step on one linear layer, LSTM factor shapes and a loss decrease, bad arguments."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qfin.errors import QfinError
from qfin.optim import KFAC


def test_single_linear_layer_gives_the_exact_gauss_newton_step():
    torch.manual_seed(0)
    n, d_in, d_out = 64, 5, 3
    x = torch.randn(n, d_in, dtype=torch.float64)
    y = torch.randn(n, d_out, dtype=torch.float64)
    layer = nn.Linear(d_in, d_out).double()
    theta0 = torch.cat([layer.weight.detach().reshape(-1), layer.bias.detach()])

    # independent reference: J of the outputs w.r.t. (W, b) by autograd, GN = J^T J / N, step = GN^{-1} grad
    def predict(theta: torch.Tensor) -> torch.Tensor:
        w, b = theta[: d_in * d_out].reshape(d_out, d_in), theta[d_in * d_out:]
        return x @ w.T + b

    jac = torch.autograd.functional.jacobian(predict, theta0).reshape(n * d_out, -1)
    grad = jac.T @ (predict(theta0) - y).reshape(-1) / n
    gn = jac.T @ jac / n
    expected = theta0 - torch.linalg.solve(gn, grad)

    opt = KFAC(layer, lr=1.0, damping=1e-16, factor_decay=0.0, kl_clip=None)  # factored damping ~ sqrt(1e-16)
    opt.zero_grad()
    with opt.capture():
        out = layer(x)
    loss = 0.5 * ((out - y) ** 2).sum(dim=1).mean()
    loss.backward(retain_graph=True)
    opt.accumulate_curvature(out)  # [N, m] outputs, unit output Hessian: the squared loss's exact GN
    opt.step()
    theta1 = torch.cat([layer.weight.detach().reshape(-1), layer.bias.detach()])
    torch.testing.assert_close(theta1, expected, atol=1e-7, rtol=0)
    # one Gauss–Newton step solves a linear least-squares problem: the gradient is now ~0
    opt.zero_grad()
    (0.5 * ((layer(x) - y) ** 2).sum(dim=1).mean()).backward()
    assert layer.weight.grad.abs().max() < 1e-7


class _Seq(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0]).squeeze(-1)  # [B, T]


def test_lstm_factor_shapes_and_loss_decrease():
    torch.manual_seed(1)
    model = _Seq()
    x = torch.randn(128, 10, 3)
    target = torch.cumsum(x[..., 0], dim=1) / 3.0
    opt = KFAC(model, lr=0.2, damping=1e-2, factor_decay=0.9, inverse_every=1, kl_clip=1e-2)

    def loss_fn() -> torch.Tensor:
        return ((model(x) - target) ** 2).mean()

    with torch.no_grad():
        start = float(loss_fn())
    for _ in range(30):
        opt.zero_grad()
        with opt.capture():
            out = model(x)
        loss = ((out - target) ** 2).mean()
        loss.backward(retain_graph=True)
        opt.accumulate_curvature(out)
        opt.step()
    shapes = opt.factors()
    assert shapes[0] == {"A_ih": (4, 4), "A_hh": (9, 9), "G": (32, 32)}  # LSTM: in+1, H+1, 4H
    assert shapes[1] == {"A": (9, 9), "G": (1, 1)}
    with torch.no_grad():
        assert float(loss_fn()) < 0.5 * start


def test_lstm_gate_gradients_match_autograd_for_a_stepwise_unroll():
    # the re-run cell must reproduce PyTorch's own gradient: sum_t g_t x_t^T == dL/dW_ih for a single output
    torch.manual_seed(2)
    lstm = nn.LSTM(2, 4, batch_first=True).double()
    x = torch.randn(1, 6, 2, dtype=torch.float64)
    opt = KFAC(lstm, lr=0.1, damping=1e-3, factor_decay=0.0)
    with opt.capture():
        state = None
        outs = []
        for t in range(6):  # step by step, as a policy that feeds back its own actions would
            o, state = lstm(x[:, t:t + 1], state)
            outs.append(o)
    out = torch.cat(outs, 1).sum()
    out.backward(retain_graph=True)
    records = opt.layers[0].records
    total = torch.zeros_like(lstm.weight_ih_l0)
    for rec in records:
        xr, st, seq, h_n, c_n = rec
        d = torch.autograd.grad(out, [seq, h_n, c_n], retain_graph=True, allow_unused=True)
        d = [torch.zeros_like(t) if g is None else g for g, t in zip(d, (seq, h_n, c_n), strict=True)]
        xs, _, gs = opt._lstm_gates_grad(lstm, xr, st, *d)
        total += gs.T @ xs
    torch.testing.assert_close(total, lstm.weight_ih_l0.grad, atol=1e-10, rtol=1e-8)


def test_bad_arguments():
    with pytest.raises(QfinError, match="damping"):
        KFAC(nn.Linear(2, 1), lr=0.1, damping=-1.0)
    with pytest.raises(QfinError, match="no nn.Linear"):
        KFAC(nn.ReLU(), lr=0.1)
    with pytest.raises(QfinError, match="num_layers=1"):
        KFAC(nn.LSTM(2, 3, num_layers=2), lr=0.1)
    opt = KFAC(nn.Linear(2, 1), lr=0.1)
    with pytest.raises(QfinError, match="capture"):
        opt.accumulate_curvature(torch.ones(3, requires_grad=True))
