"""Estimates equal SCOPE-RL 0.2.1's on identical logged data (figures recorded by bench/bench_ope.py
--record-estimates; the data is rebuilt here exactly as bench_ope.make_data(200, 5) builds it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qfin.ope import dr, pdis, random_tabular_mdp, rollout, sndr, snpdis, sntis, softmax_policy, tis

RECORDED = json.loads((Path(__file__).parent / "scope_rl_estimates.json").read_text())


def _data(n_episodes=200, horizon=5, seed=0):
    mdp = random_tabular_mdp(n_states=20, n_actions=4, horizon=horizon, gamma=0.99, terminal_prob=0.0,
                             reward_noise=0.1, seed=seed)
    rng = np.random.default_rng(seed + 1)
    behavior = softmax_policy(rng.normal(size=(21, 4)))
    cand = softmax_policy(rng.normal(size=(21, 4)), 2.0)
    data = rollout(mdp, behavior, {"e": cand}, n_episodes, seed=seed + 2)
    q = mdp.q_values(cand)[np.arange(horizon)[None, :], data.state]
    return data, 0.5 * q + 0.1


@pytest.mark.solver  # Q from a DP through matrix products, against recorded SCOPE-RL figures
def test_same_estimates_as_scope_rl():
    assert RECORDED["scope_rl_version"] == "0.2.1"
    data, q = _data()
    assert np.allclose(data.reward[0], RECORDED["first_rewards"], rtol=0, atol=1e-15)  # the same logged data
    v = RECORDED["values"]
    assert tis(data, "e").value == pytest.approx(v["tis"], rel=1e-12)
    assert pdis(data, "e").value == pytest.approx(v["pdis"], rel=1e-12)
    assert dr(data, "e", q).value == pytest.approx(v["dr"], rel=1e-12)
    # SCOPE-RL adds a tiny constant to the self-normalising denominators: agreement to ~1e-11 absolute
    assert sntis(data, "e").value == pytest.approx(v["sntis"], abs=1e-9)
    assert snpdis(data, "e").value == pytest.approx(v["snpdis"], abs=1e-9)
    assert sndr(data, "e", q).value == pytest.approx(v["sndr"], abs=1e-9)
