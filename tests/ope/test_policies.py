"""Menu policies: probabilities against hand-worked cases and the Black–Scholes delta of qfin.hedging."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qfin.errors import SpecError
from qfin.hedging import bs_delta
from qfin.ope import BandHedge, ConstantHedge, DeltaHedge, UniformPolicy

MENU = [0.0, 0.25, 0.5, 0.75, 1.0]


def _obs(moneyness, tau, hedge):
    return np.column_stack([np.log(moneyness), tau, hedge]).astype(np.float64)


def test_delta_target_is_black_scholes_delta():
    obs = _obs([0.9, 1.0, 1.1], [0.1, 0.05, 0.2], [0.0, 0.0, 0.0])
    expect = bs_delta(100 * np.array([0.9, 1.0, 1.1]), 100.0, obs[:, 1], 0.0, 0.3)
    np.testing.assert_allclose(DeltaHedge(values=MENU, vol=0.3).target(obs), expect, rtol=1e-12)
    np.testing.assert_allclose(DeltaHedge(values=MENU, vol=0.3, put=True).target(obs), expect - 1.0, rtol=1e-12)


def test_deterministic_rule_plays_the_nearest_value_ties_to_the_lower_index():
    policy = ConstantHedge(values=MENU, hedge=0.375)  # exactly between 0.25 and 0.5
    p = policy.probs(_obs([1.0], [0.1], [0.0]))
    np.testing.assert_array_equal(p, [[0, 1, 0, 0, 0]])
    p = ConstantHedge(values=MENU, hedge=0.8).probs(_obs([1.0], [0.1], [0.0]))
    np.testing.assert_array_equal(p, [[0, 0, 0, 1, 0]])


def test_temperature_is_a_gaussian_kernel_on_the_menu_and_epsilon_mixes_in_uniform():
    obs = _obs([1.0], [0.1], [0.0])
    p = ConstantHedge(values=MENU, hedge=0.5, temperature=0.25).probs(obs)[0]
    w = np.exp(-0.5 * np.array([4.0, 1.0, 0.0, 1.0, 4.0]))  # (gap / 0.25)^2 = 4, 1, 0, 1, 4
    np.testing.assert_allclose(p, w / w.sum(), rtol=1e-12)
    q = ConstantHedge(values=MENU, hedge=0.5, temperature=0.25, epsilon=0.2).probs(obs)[0]
    np.testing.assert_allclose(q, 0.8 * w / w.sum() + 0.2 / 5, rtol=1e-12)
    np.testing.assert_allclose(UniformPolicy(values=MENU).probs(np.zeros((3, 3))), np.full((3, 5), 0.2))


def test_band_keeps_the_old_hedge_inside_and_trades_to_the_edge_outside():
    obs = _obs([1.0, 1.0, 1.0], [0.1, 0.1, 0.1], [0.5, 0.9, 0.0])
    delta = DeltaHedge(values=MENU, vol=0.2).target(obs)[0]  # ATM, ~0.51
    target = BandHedge(values=MENU, vol=0.2, band=0.1).target(obs)
    np.testing.assert_allclose(target, [0.5, delta + 0.1, delta - 0.1], rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": -1.0}, "temperature"), ({"epsilon": 1.5}, "epsilon"), ({"epsilon": math.nan}, "epsilon"),
])
def test_bad_noise_is_refused(kwargs, match):
    with pytest.raises(SpecError, match=match):
        ConstantHedge(values=MENU, **kwargs)


def test_bad_vol_and_band_are_refused():
    with pytest.raises(SpecError, match="vol"):
        DeltaHedge(values=MENU, vol=0.0)
    with pytest.raises(SpecError, match="band"):
        BandHedge(values=MENU, band=-0.1)


def test_agent_policy_gives_the_agents_own_action_probabilities():
    pytest.importorskip("stable_baselines3")
    import torch
    from stable_baselines3 import PPO

    from qfin.envs import DiscreteActions, HedgingEnv
    from qfin.ope import AgentPolicy

    env = DiscreteActions(HedgingEnv("gbm", n_steps=4, premium_paths=1_000), MENU)
    model = PPO("MlpPolicy", env, seed=0, device="cpu", n_steps=16, batch_size=16)
    obs = _obs([0.9, 1.0, 1.2], [0.05, 0.03, 0.01], [0.0, 0.5, 1.0])
    p = AgentPolicy(values=MENU, model=model).probs(obs)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    actions = torch.as_tensor([1, 3, 4])
    _, log_prob, _ = model.policy.evaluate_actions(torch.as_tensor(obs, dtype=torch.float32), actions)
    np.testing.assert_allclose(p[[0, 1, 2], [1, 3, 4]], log_prob.exp().detach().numpy(), rtol=1e-5)
    mixed = AgentPolicy(values=MENU, model=model, epsilon=0.5).probs(obs)
    np.testing.assert_allclose(mixed, 0.5 * p + 0.1, rtol=1e-6)
    with pytest.raises(SpecError, match="menu has 3 actions"):
        AgentPolicy(values=[0.0, 0.5, 1.0], model=model)
