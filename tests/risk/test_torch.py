"""The torch path of qfin.risk: same numbers as numpy from the same code, gradients that match finite
differences (torch.autograd.gradcheck, float64) and closed-form derivatives, and no torch import by default."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.errors import DataValidationError, QfinError
from qfin.risk import (
    entropic_risk,
    expected_shortfall,
    lower_tail_mean,
    mixed_var,
    range_value_at_risk,
    rockafellar_uryasev,
    sharpe_ratio,
    value_at_risk,
)

torch = pytest.importorskip("torch")

X = np.random.default_rng(21).normal(0.001, 0.02, 257)
PANEL = np.random.default_rng(22).standard_t(4, size=(300, 3)) * 0.01


def test_import_qfin_risk_does_not_import_torch(fresh_python):
    fresh_python("import sys, qfin.risk, qfin.risk.divergence, numpy as np; "
                 "qfin.risk.entropic_risk(np.array([1.0, -2.0]), 0.5); "
                 "qfin.risk.mixed_var(np.arange(5.0), 0.2, 0.6, 1.0); "
                 "assert 'torch' not in sys.modules, 'torch was imported'")


CASES = [
    ("entropic", lambda v: entropic_risk(v, 3.0)),
    ("ru", lambda v: rockafellar_uryasev(v, 0.01, 0.9)),
    ("ltm", lambda v: lower_tail_mean(v, 0.137)),
    ("rvar", lambda v: range_value_at_risk(v, 0.05, 0.61)),
    ("mvar", lambda v: mixed_var(v, 0.1, 0.7, 0.5)),
    ("var", lambda v: value_at_risk(v, 0.95)),
    ("es", lambda v: expected_shortfall(v, 0.95)),
]


@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("data", [X, PANEL], ids=["1d", "2d"])
def test_torch_and_numpy_agree(name, fn, data):
    expected = fn(data)
    got = fn(torch.tensor(data, dtype=torch.float64))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)
    if data.ndim == 1:
        assert isinstance(expected, float)


def test_float32_stays_float32():
    out = mixed_var(torch.tensor(X, dtype=torch.float32), 0.1, 0.7, 0.5)
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(mixed_var(X, 0.1, 0.7, 0.5), rel=1e-5)


def _leaf(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_gradcheck_entropic_risk():
    x = _leaf(X[:40] * 50)
    lam = _leaf(0.7)
    assert torch.autograd.gradcheck(lambda a, b: entropic_risk(a, b), (x, lam))
    # closed form: d rho / d X_i = -softmax(-lambda X)_i
    rho = entropic_risk(x, 0.7)
    (grad,) = torch.autograd.grad(rho, x)
    w = np.exp(-0.7 * X[:40] * 50)
    np.testing.assert_allclose(grad.numpy(), -w / w.sum(), rtol=1e-12)
    # stays finite (and differentiable) for huge lambda * X
    big = _leaf([-1000.0, 0.0, 5.0])
    out = entropic_risk(big, 50.0)
    out.backward()
    assert torch.isfinite(out) and torch.all(torch.isfinite(big.grad))
    np.testing.assert_allclose(big.grad.numpy(), [-1.0, 0.0, 0.0], atol=1e-12)


def test_gradcheck_rockafellar_uryasev():
    # samples kept away from the threshold: F is smooth there (its kinks sit at L_i = t)
    losses = X[np.abs(X - 0.01) > 1e-3][:60]
    loss_t, t = _leaf(losses), _leaf(0.01)
    assert torch.autograd.gradcheck(lambda a, b: rockafellar_uryasev(a, b, 0.9), (loss_t, t))
    # closed form: dF/dt = 1 - P(L > t) / (1 - level)
    value = rockafellar_uryasev(loss_t, t, 0.9)
    (dt,) = torch.autograd.grad(value, t)
    assert float(dt) == pytest.approx(1.0 - np.mean(losses > 0.01) / 0.1, rel=1e-12)
    # a threshold per column
    thresholds = _leaf([0.0, 0.01, -0.01])
    assert torch.autograd.gradcheck(lambda b: rockafellar_uryasev(torch.tensor(PANEL), b, 0.8), (thresholds,))


def test_minimising_rockafellar_uryasev_over_a_learned_threshold_gives_cvar():
    losses = torch.tensor(-X)
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([t], lr=2e-4)
    for _ in range(400):
        opt.zero_grad()
        rockafellar_uryasev(losses, t, 0.9).backward()
        opt.step()
    # the minimum is the exact CVaR of the losses: the mean of their worst 10% (fractional atoms)
    assert float(rockafellar_uryasev(losses, t.detach(), 0.9)) == pytest.approx(-lower_tail_mean(X, 0.1), rel=1e-3)


@pytest.mark.parametrize("fn", [lambda v: lower_tail_mean(v, 0.137), lambda v: range_value_at_risk(v, 0.05, 0.61),
                                lambda v: mixed_var(v, 0.1, 0.7, 0.5)], ids=["ltm", "rvar", "mvar"])
def test_gradcheck_sort_based_measures(fn):
    x = _leaf(np.random.default_rng(4).permutation(np.linspace(-1.0, 1.0, 37)))  # well-separated: no ties
    assert torch.autograd.gradcheck(fn, (x,))
    x2 = _leaf(np.random.default_rng(6).normal(size=(25, 2)))
    assert torch.autograd.gradcheck(fn, (x2,))


def test_lower_tail_mean_gradient_is_the_atom_weights():
    x = _leaf([0.3, -0.2, 0.9, -0.5, 0.1])  # sorted: -0.5, -0.2, 0.1, 0.3, 0.9
    (grad,) = torch.autograd.grad(lower_tail_mean(x, 0.5), x)
    # worst 50% = atoms -0.5 (0.2), -0.2 (0.2) and half of 0.1 (0.1), each divided by 0.5
    np.testing.assert_allclose(grad.numpy(), [0.0, 0.4, 0.0, 0.4, 0.2], atol=1e-15)


def test_tensor_errors():
    bad = torch.tensor([0.1, float("nan"), 0.2])
    with pytest.raises(DataValidationError, match=r"rows \[1\]"):
        lower_tail_mean(bad, 0.5)
    with pytest.raises(QfinError, match="risk_aversion"):
        entropic_risk(torch.tensor(X), torch.tensor(-1.0))
    with pytest.raises(QfinError, match="torch tensors are not supported"):
        sharpe_ratio(torch.tensor(X))
