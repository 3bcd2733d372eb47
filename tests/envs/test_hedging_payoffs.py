"""HedgingEnv with any payoff of qfin.data.simulate or a callable of whole paths: the payoff at maturity, the
default premium, the claim state in the observation (causal), and one-line errors for bad payoffs."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.data.simulate import AsianOption, BarrierOption, Digital, LookbackOption, Vanilla, gbm
from qfin.envs import HedgingEnv
from qfin.errors import QfinError


def _episode(env: HedgingEnv, path: np.ndarray) -> tuple[list[np.ndarray], dict]:
    obs, _ = env.reset(options={"path": path})
    seen = [obs]
    for _ in range(env.n_steps):
        obs, _, done, _, info = env.step([0.5])
        seen.append(obs)
    assert done
    return seen, info


@pytest.mark.parametrize("payoff", [LookbackOption(102.0), AsianOption(100.0), BarrierOption(100.0, 106.0, "up",
                                                                                               "out"), Digital(99.0)],
                         ids=lambda p: type(p).__name__)
def test_the_payoff_of_an_episode_is_the_payoff_of_its_path(payoff):
    env = HedgingEnv(payoff=payoff, n_steps=6, premium=0.0)
    for path in gbm(100.0, 0.0, 0.3, env.maturity, 6, 5, seed=3):
        _, info = _episode(env, path)
        assert info["payoff"] == pytest.approx(float(payoff(path[None, :])[0]), rel=1e-12, abs=1e-12)


def test_the_default_vanilla_is_unchanged_and_equals_the_qfin_payoff():
    default, explicit = HedgingEnv(n_steps=5, premium_paths=20_000), HedgingEnv(n_steps=5, payoff=Vanilla(100.0),
                                                                                premium_paths=20_000)
    assert default.premium == explicit.premium and default.observation_space.shape == (3,)


def test_the_claim_state_is_observed_and_causal():
    env = HedgingEnv(payoff=LookbackOption(102.0), n_steps=8, premium=0.0)
    assert env.observation_space.shape == (5,)  # log-moneyness, tau, running max, running min, hedge
    path = gbm(100.0, 0.0, 0.3, env.maturity, 8, 1, seed=4)[0]
    seen, _ = _episode(env, path)
    for t in range(8):
        np.testing.assert_allclose(seen[t][2], np.log(path[: t + 1].max() / 100.0), rtol=1e-6)
        bumped = path.copy()
        bumped[t + 1:] *= 1.4
        again, _ = _episode(env, bumped)
        np.testing.assert_array_equal(again[t], seen[t])


@pytest.mark.parametrize("payoff, match", [
    (lambda paths: paths[:, -2:], r"returned shape \(3, 2\); expected \(3,\)"),
    (lambda paths: np.full(len(paths), np.nan), "returned a non-finite value"),
    (BarrierOption(100.0, 98.0, "up", "out"), "an up barrier must lie above today's spot 100"),
])
def test_bad_payoffs_are_one_line_errors(payoff, match):
    with pytest.raises(QfinError, match=match) as err:
        HedgingEnv(payoff=payoff, premium=0.0)
    assert "\n" not in str(err.value)
