"""K-FAC: Kronecker-factored approximate curvature for models built of ``nn.Linear`` and ``nn.LSTM`` layers.

For a layer with pre-activations s = W a (+ b), the curvature block of W is approximated by the Kronecker product
F_W ≈ A ⊗ G with A = E[a a^T] (inputs, bias as a trailing 1) and G = E[g g^T] (g = ∂out/∂s, the per-example
gradient of the curvature outputs with respect to the pre-activations), so the natural-gradient step is the
matrix product  ΔW = (G + γ_G I)^{-1} ∇W (A + γ_A I)^{-1}  (Martens & Grosse 2015, "Optimizing neural networks
with Kronecker-factored approximate curvature", ICML, eqs. 1 and §6.3 factored Tikhonov damping with
γ_A = π sqrt(λ), γ_G = sqrt(λ) / π, π^2 = (tr A / dim A) / (tr G / dim G)).

Curvature outputs. Risk measures of a P&L are not likelihoods, so there is no model distribution to sample from:
the curvature is the generalised Gauss–Newton matrix of the OUTPUTS passed to :meth:`KFAC.accumulate_curvature`
(e.g. the pathwise P&L [N], or the network outputs [N, m] for a squared loss), J^T diag(w) J / N, whose per-output
Hessian is taken to be w_n (default 1). For a squared loss 0.5 mean ||y - t||^2 on y = model(x) this is the exact
Gauss–Newton matrix; pass ``weights`` with the diagonal of the loss Hessian in the outputs (times N) for other losses.

Weight sharing. A layer used at several positions (time steps, or a step-by-step unrolled policy) contributes
one row of a and g per use; A averages over all uses and G sums over uses and averages over examples, which is
the "independence across time" approximation of Martens, Ba & Johnson (2018, "Kronecker-factored curvature
approximations for recurrent neural networks", ICLR, §3.4, option "KF-RNN independent"): F ≈ T Ā ⊗ Ḡ. For
``nn.LSTM`` (one layer, unidirectional) the gate pre-activations z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh are
not exposed by cuDNN-style fused kernels, so their gradients are recovered by re-running the cell equations on
the stored inputs and back-propagating the gradients of the LSTM's outputs; W_ih and W_hh get separate A factors
(inputs x_t and h_{t-1}) and share G (block-diagonal between them).

Factors are exponential moving averages (``factor_decay``), their damped inverses are recomputed every
``inverse_every`` steps, and the update is rescaled so that the predicted KL change lr^2 Δ·∇ stays below
``kl_clip`` (Ba, Grosse & Martens 2017, "Distributed second-order optimization using Kronecker-factored
approximations", ICLR, §5).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ..errors import QfinError

__all__ = ["KFAC"]


def _check(value: Any, name: str, low: float, high: float = math.inf, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < low or value > high or (low_open and value == low):
        bound = f"{'>' if low_open else '>='} {low}" + ("" if high == math.inf else f" and <= {high}")
        raise QfinError(f"KFAC {name}: expected a number {bound}, got {value!r}")
    return float(value)


def _with_ones(a: torch.Tensor, bias: bool) -> torch.Tensor:
    return torch.cat([a, a.new_ones(a.shape[0], 1)], dim=1) if bias else a


class _Layer:
    """Factors, inverses and records of one hooked layer."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.records: list[tuple[Any, ...]] = []
        self.a: dict[str, torch.Tensor] = {}     # "w" for Linear; "ih", "hh" for LSTM
        self.g: torch.Tensor | None = None
        self.a_inv: dict[str, torch.Tensor] = {}
        self.g_inv: dict[str, torch.Tensor] = {}


class KFAC(torch.optim.Optimizer):
    """K-FAC optimizer (see the module docstring) for the ``nn.Linear`` and ``nn.LSTM`` layers of ``model``.

    Usage, per iteration::

        opt.zero_grad()
        with opt.capture():                    # record layer inputs/outputs during the forward pass
            outputs = model(...)               # e.g. the pathwise P&L [N]
        loss = risk(outputs); loss.backward(retain_graph=True)
        opt.accumulate_curvature(outputs)      # update the A and G factors (does not touch .grad)
        opt.step()

    Parameters
    ----------
    model : nn.Module whose Linear/LSTM parameters are preconditioned; other parameters (e.g. a learned CVaR
        threshold passed in ``extra_params``) take plain gradient steps.
    lr : step size > 0.
    damping : Tikhonov damping λ > 0 added to the Kronecker-factored curvature.
    momentum : heavy-ball momentum in [0, 1) applied to the preconditioned step.
    factor_decay : moving-average weight of the old factors in [0, 1) (0 = use the current batch only).
    inverse_every : recompute the damped inverses every this many steps (>= 1).
    kl_clip : bound on lr^2 Δ·∇ (None = no clipping).
    weight_decay : L2 coefficient added to the gradient before preconditioning.
    extra_params : more parameters (not in ``model``) to optimise with plain (momentum) SGD at ``lr``.
    """

    def __init__(self, model: nn.Module, lr: float = 0.01, damping: float = 1e-3, momentum: float = 0.0,
                 factor_decay: float = 0.95, inverse_every: int = 10, kl_clip: float | None = 1e-3,
                 weight_decay: float = 0.0, extra_params: list[torch.Tensor] | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise QfinError(f"KFAC model: expected a torch.nn.Module, got {type(model).__name__}")
        lr = _check(lr, "lr", 0.0, low_open=True)
        damping = _check(damping, "damping", 0.0, low_open=True)
        momentum = _check(momentum, "momentum", 0.0, 1.0 - 1e-12)
        self.factor_decay = _check(factor_decay, "factor_decay", 0.0, 1.0 - 1e-12)
        if isinstance(inverse_every, bool) or not isinstance(inverse_every, int) or inverse_every < 1:
            raise QfinError(f"KFAC inverse_every: expected an integer >= 1, got {inverse_every!r}")
        self.inverse_every = inverse_every
        self.kl_clip = None if kl_clip is None else _check(kl_clip, "kl_clip", 0.0, low_open=True)
        weight_decay = _check(weight_decay, "weight_decay", 0.0)
        self.layers: list[_Layer] = []
        for module in model.modules():
            if isinstance(module, nn.LSTM):
                if module.num_layers != 1 or module.bidirectional or module.proj_size:
                    raise QfinError("KFAC supports nn.LSTM with num_layers=1, bidirectional=False, proj_size=0 "
                                    "(stack several nn.LSTM modules for depth)")
                self.layers.append(_Layer(module))
            elif isinstance(module, nn.Linear):
                self.layers.append(_Layer(module))
        if not self.layers:
            raise QfinError("KFAC model: found no nn.Linear or nn.LSTM layer to precondition")
        params = [p for p in model.parameters() if p.requires_grad] + list(extra_params or [])
        super().__init__(params, {"lr": lr, "damping": damping, "momentum": momentum, "weight_decay": weight_decay})
        self._capturing = False
        self._n_steps = 0
        for layer in self.layers:
            layer.module.register_forward_hook(self._make_hook(layer))

    # ----------------------------------------------------------------------------------------------- recording
    def _make_hook(self, layer: _Layer):
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if not self._capturing or not torch.is_grad_enabled():
                return
            if isinstance(module, nn.LSTM):
                x = inputs[0]
                state = inputs[1] if len(inputs) > 1 else None
                seq, (h_n, c_n) = output
                layer.records.append((x.detach(), None if state is None else tuple(s.detach() for s in state),
                                      seq, h_n, c_n))
            else:
                layer.records.append((inputs[0].detach(), output))
        return hook

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Record the Linear/LSTM inputs and outputs of the forward passes run inside the block."""
        for layer in self.layers:
            layer.records.clear()
        self._capturing = True
        try:
            yield
        finally:
            self._capturing = False

    # ----------------------------------------------------------------------------------------------- factors
    def _lstm_gates_grad(self, module: nn.LSTM, x: torch.Tensor, state: Any, d_seq: torch.Tensor,
                         d_h: torch.Tensor, d_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Re-run the cell equations (PyTorch gate order i, f, g, o) to get ∂out/∂z_t;
        returns (x_rows, h_prev_rows, g_rows)."""
        if not module.batch_first:
            x, d_seq = x.transpose(0, 1), d_seq.transpose(0, 1)
        batch, steps, _ = x.shape
        hidden = module.hidden_size
        w_ih, w_hh = module.weight_ih_l0.detach(), module.weight_hh_l0.detach()
        b = (module.bias_ih_l0 + module.bias_hh_l0).detach() if module.bias else 0.0
        if state is None:
            h = x.new_zeros(batch, hidden)
            c = x.new_zeros(batch, hidden)
        else:
            h, c = state[0][0], state[1][0]
        zs, hs_prev, outs = [], [], []
        with torch.enable_grad():
            for t in range(steps):
                hs_prev.append(h)
                z = (x[:, t] @ w_ih.T + h @ w_hh.T + b).requires_grad_(True)
                zs.append(z)
                i, f, g, o = z.chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                outs.append(h)
            seq = torch.stack(outs, dim=1)
            grads = torch.autograd.grad([seq, h, c], zs, grad_outputs=[d_seq, d_h[0], d_c[0]])
        return (x.reshape(batch * steps, -1), torch.stack(hs_prev, 1).reshape(batch * steps, -1),
                torch.stack(grads, 1).reshape(batch * steps, -1))

    def accumulate_curvature(self, outputs: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """Update the factors from the recorded forward pass and the curvature ``outputs`` ([N] or [N, m]).

        ``weights`` [N] (>= 0) are the per-example output curvatures w_n (default 1; see the module docstring).
        Uses ``torch.autograd.grad``, so parameter ``.grad`` are untouched; the graph must still exist
        (call ``loss.backward(retain_graph=True)`` before, or this before the loss backward).
        """
        if not isinstance(outputs, torch.Tensor) or outputs.ndim not in (1, 2) or not outputs.requires_grad:
            raise QfinError("KFAC.accumulate_curvature: outputs must be a tensor [N] or [N, m] that depends on the "
                            "model (computed inside opt.capture())")
        if not any(layer.records for layer in self.layers):
            raise QfinError("KFAC.accumulate_curvature: nothing recorded; run the forward pass inside opt.capture()")
        with torch.enable_grad():
            out2 = outputs.reshape(outputs.shape[0], -1)
        n = out2.shape[0]
        scale = torch.ones(n, dtype=out2.dtype, device=out2.device) if weights is None else weights.detach()
        if scale.shape != (n,) or not bool(torch.isfinite(scale).all()) or bool((scale < 0).any()):
            raise QfinError(f"KFAC.accumulate_curvature: weights must be finite, >= 0, of shape [{n}]")
        targets, owners = [], []
        for li, layer in enumerate(self.layers):
            for ri, rec in enumerate(layer.records):
                tensors = rec[2:] if isinstance(layer.module, nn.LSTM) else rec[1:]
                for k, tensor in enumerate(tensors):
                    if tensor.requires_grad:
                        targets.append(tensor)
                        owners.append((li, ri, k))
        g_new: dict[int, torch.Tensor] = {}
        a_new: dict[int, dict[str, torch.Tensor]] = {}
        rows: dict[int, int] = {}
        sqrt_w = scale.sqrt().reshape(n, 1)
        for j in range(out2.shape[1]):
            with torch.enable_grad():
                grads = torch.autograd.grad((out2[:, j:j + 1] * sqrt_w).sum(), targets, retain_graph=True,
                                            allow_unused=True)
            per = {}
            for (li, ri, k), tensor, grad in zip(owners, targets, grads, strict=True):
                per[(li, ri, k)] = torch.zeros_like(tensor) if grad is None else grad
            for li, layer in enumerate(self.layers):
                module = layer.module
                for ri, rec in enumerate(layer.records):
                    if isinstance(module, nn.LSTM):
                        x, state, seq, h_n, c_n = rec
                        d = [per.get((li, ri, k), torch.zeros_like(t)) for k, t in enumerate((seq, h_n, c_n))]
                        xr, hr, gr = self._lstm_gates_grad(module, x, state, *d)
                        if j == 0:
                            acc = a_new.setdefault(li, {"ih": 0.0, "hh": 0.0})
                            xb, hb = _with_ones(xr, module.bias), _with_ones(hr, module.bias)
                            acc["ih"] = acc["ih"] + xb.T @ xb
                            acc["hh"] = acc["hh"] + hb.T @ hb
                            rows[li] = rows.get(li, 0) + xr.shape[0]
                    else:
                        x, out = rec
                        gr = per.get((li, ri, 0), torch.zeros_like(out)).reshape(-1, out.shape[-1])
                        if j == 0:
                            xr = _with_ones(x.reshape(-1, x.shape[-1]), module.bias is not None)
                            acc = a_new.setdefault(li, {"w": 0.0})
                            acc["w"] = acc["w"] + xr.T @ xr
                            rows[li] = rows.get(li, 0) + xr.shape[0]
                    g_new[li] = g_new.get(li, 0.0) + gr.T @ gr
        self._update_factors(n, a_new, g_new, rows)

    @torch.no_grad()
    def _update_factors(self, n: int, a_new: dict, g_new: dict, rows: dict) -> None:
        decay = self.factor_decay
        for li, layer in enumerate(self.layers):
            if li not in a_new:
                continue
            g = g_new[li] / n
            a = {key: value / rows[li] for key, value in a_new[li].items()}
            first = layer.g is None
            layer.g = g if first else decay * layer.g + (1.0 - decay) * g
            for key, value in a.items():
                layer.a[key] = value if first else decay * layer.a[key] + (1.0 - decay) * value
            layer.records.clear()

    def _invert(self, damping: float) -> None:
        for layer in self.layers:
            if layer.g is None:
                continue
            for key, a in layer.a.items():
                pi = math.sqrt(max(float(torch.trace(a)) / a.shape[0], 1e-30)
                               / max(float(torch.trace(layer.g)) / layer.g.shape[0], 1e-30))
                eye_a = torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
                eye_g = torch.eye(layer.g.shape[0], dtype=a.dtype, device=a.device)
                layer.a_inv[key] = torch.linalg.inv(a + pi * math.sqrt(damping) * eye_a)
                layer.g_inv[key] = torch.linalg.inv(layer.g + math.sqrt(damping) / pi * eye_g)

    # ----------------------------------------------------------------------------------------------- step
    def _blocks(self, layer: _Layer) -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
        m = layer.module
        if isinstance(m, nn.LSTM):
            return [("ih", m.weight_ih_l0, m.bias_ih_l0 if m.bias else None),
                    ("hh", m.weight_hh_l0, m.bias_hh_l0 if m.bias else None)]
        return [("w", m.weight, m.bias)]

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Precondition the current gradients with the damped factor inverses and take one step."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        group = self.param_groups[0]
        lr, damping, momentum, wd = group["lr"], group["damping"], group["momentum"], group["weight_decay"]
        if self._n_steps % self.inverse_every == 0 or any(
                layer.g is not None and not layer.a_inv for layer in self.layers):
            self._invert(damping)
        self._n_steps += 1
        updates: dict[torch.Tensor, torch.Tensor] = {}
        for p in group["params"]:
            if p.grad is not None:
                updates[p] = p.grad + wd * p if wd else p.grad.clone()
        for layer in self.layers:
            for key, weight, bias in self._blocks(layer):
                if key not in layer.a_inv or weight.grad is None:
                    continue
                grad = updates[weight]
                if bias is not None and bias.grad is not None:
                    grad = torch.cat([grad, updates[bias].reshape(-1, 1)], dim=1)
                elif bias is not None:
                    grad = torch.cat([grad, grad.new_zeros(grad.shape[0], 1)], dim=1)
                nat = layer.g_inv[key] @ grad @ layer.a_inv[key]
                if bias is not None:
                    updates[weight] = nat[:, :-1].contiguous()
                    if bias.grad is not None:
                        updates[bias] = nat[:, -1].contiguous()
                else:
                    updates[weight] = nat
        nu = 1.0
        if self.kl_clip is not None:
            vg = sum(float((updates[p] * p.grad).sum()) for p in updates) * lr * lr
            if vg > 0:
                nu = min(1.0, math.sqrt(self.kl_clip / vg))
        for p, u in updates.items():
            u = u * nu
            if momentum:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                buf = u.clone() if buf is None else buf.mul_(momentum).add_(u)
                state["momentum_buffer"] = buf
                u = buf
            p.add_(u, alpha=-lr)
        return loss

    def factors(self) -> list[dict[str, tuple[int, ...]]]:
        """Shapes of each layer's factors, e.g. ``[{"A_ih": (in+1, in+1), "A_hh": (H+1, H+1), "G": (4H, 4H)}]``."""
        out = []
        for layer in self.layers:
            d = {f"A_{k}" if k != "w" else "A": tuple(v.shape) for k, v in layer.a.items()}
            if layer.g is not None:
                d["G"] = tuple(layer.g.shape)
            out.append(d)
        return out
