"""Deep stock-augmented distributional RL: QR-DQN (sb3-contrib) acting on f(c + predicted quantiles).

The deep variant of :mod:`qfin.dp` (it lives here, above the environments it trains on).
Pires et al. (2025, Sec. 7) turn a distributional agent into an objective optimiser by (i) giving it the stock c
as an input (``qfin.envs.StockAugmentation``), (ii) choosing actions, both when acting and in the bootstrap
target, by argmax_a mean_i f(c + Z_i(x, a)) over the predicted quantiles instead of their mean, and (iii) drawing
a random start stock per episode so one network serves every c0. The learnt quantiles are optimistic (a max is
taken over noisy estimates), so :func:`train_qrdqn` reports the EXACT value of the greedy policy it found.
Needs gamma = 1 (then f applies to c_t + the future return at every t).
"""

from __future__ import annotations

import types
from typing import Any, ClassVar

import numpy as np

from qfin.dp import DPResult, FiniteMDP, Objective, achievable_returns, policy_result
from qfin.errors import QfinError

__all__ = ["FiniteMDPEnv", "train_qrdqn"]


def _gym():
    import gymnasium as gym

    return gym


class FiniteMDPEnv(_gym().Env):
    """A :class:`FiniteMDP` as a Gymnasium environment: observation [one-hot state (S), t / T] (float32),
    ``Discrete(A)`` actions, episodes of ``horizon`` steps; ``info["state"]`` and ``info["t"]`` hold the indices."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, mdp: FiniteMDP, horizon: int | None = None) -> None:
        gym = _gym()
        self.mdp = mdp
        self.horizon = horizon or mdp.effective_horizon(1e-6)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(mdp.n_states + 1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(mdp.n_actions)
        self._s, self._t = mdp.initial_state, 0

    def _obs(self):
        obs = np.zeros(self.mdp.n_states + 1, np.float32)
        obs[self._s] = 1.0
        obs[-1] = self._t / self.horizon
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._s, self._t = self.mdp.initial_state, 0
        return self._obs(), {"state": self._s, "t": 0}

    def step(self, action):
        s2, r, p = self.mdp._succ[self._s][int(action)]
        k = self.np_random.choice(p.size, p=p / p.sum())
        self._s, self._t = int(s2[k]), self._t + 1
        return self._obs(), float(r[k]), self._t >= self.horizon, False, {"state": self._s, "t": self._t}


def _objective_greedy(objective: Objective, quantiles, stock):
    """argmax_a mean_i f(stock + Z[:, i, a]); quantiles [B, N, A] tensor, stock [B] tensor -> [B] actions."""
    import torch as th

    x = (stock[:, None, None] + quantiles).detach().cpu().numpy().astype(np.float64)
    score = objective.utility(x).mean(axis=1)
    return th.as_tensor(score.argmax(axis=1), device=quantiles.device)


def train_qrdqn(mdp: FiniteMDP, objective: Objective, *, total_timesteps: int = 20_000, n_quantiles: int = 50,
                stock_range: tuple[float, float] | None = None, seed: int = 0, learning_rate: float = 1e-3,
                net_arch: tuple[int, ...] = (64, 64), **qrdqn_kwargs: Any) -> DPResult:
    """Train QR-DQN on the stock-augmented MDP and return the exact evaluation of its objective-greedy policy.

    Parameters
    ----------
    mdp : a finite-horizon :class:`FiniteMDP` with gamma = 1.
    objective : an optimisable objective (see :func:`qfin.dp.solve`).
    total_timesteps : environment steps of training.
    stock_range : (low, high) of the uniform random start stock per episode; defaults to the objective's start
        stocks widened by the range of achievable returns.
    seed : seeds the agent, the environment and the start-stock draws.
    qrdqn_kwargs : passed on to ``sb3_contrib.QRDQN``.

    Returns
    -------
    :class:`DPResult` with ``method="qrdqn"``, ``value`` the exact objective of the learnt policy from the chosen
    c0, ``approx_value`` the network's own estimate; the trained sb3-contrib model is ``result.model``.
    """
    import torch as th
    from sb3_contrib import QRDQN

    from qfin.envs import StockAugmentation  # the environments' wrapper (c_{t+1} = (c_t + r_t) / gamma)

    if mdp.gamma != 1.0 or mdp.horizon is None:
        raise QfinError("train_qrdqn needs a finite horizon and gamma = 1 (the utility then applies to c_t plus "
                        f"the future return at every step); got gamma={mdp.gamma}, horizon={mdp.horizon}")
    support = achievable_returns(mdp, mdp.horizon)
    starts = np.unique(objective.start_stocks(support))
    if stock_range is None:
        span = float(support.max() - support.min()) or 1.0
        stock_range = (float(starts.min() - 0.5 * span), float(starts.max() + 0.5 * span))
    lo, hi = map(float, stock_range)
    gym = _gym()

    class RandomStartStock(gym.Wrapper):
        def reset(self, *, seed=None, options=None):
            if seed is not None:
                self._rng = np.random.default_rng(seed)
            rng = getattr(self, "_rng", None) or np.random.default_rng(0)
            self._rng = rng
            # half the episodes start at an objective's own start stock, half anywhere in the range
            c0 = float(rng.choice(starts)) if rng.random() < 0.5 else float(rng.uniform(lo, hi))
            return self.env.reset(seed=seed, options={"stock": c0})

    env = RandomStartStock(StockAugmentation(FiniteMDPEnv(mdp), gamma=1.0))
    kwargs = {"learning_starts": 500, "target_update_interval": 250, "exploration_fraction": 0.3,
              "exploration_final_eps": 0.05, "train_freq": 1, "batch_size": 64, "buffer_size": 50_000}
    kwargs.update(qrdqn_kwargs)
    model = QRDQN("MlpPolicy", env, learning_rate=learning_rate, gamma=1.0, seed=seed, verbose=0,
                  policy_kwargs={"n_quantiles": n_quantiles, "net_arch": list(net_arch)}, **kwargs)
    qnet = model.policy.quantile_net

    def _predict(self, observation, deterministic=True):
        return _objective_greedy(objective, self(observation), observation[:, -1]).reshape(-1)

    qnet._predict = types.MethodType(_predict, qnet)
    model.train = types.MethodType(_train_objective_greedy(objective), model)
    model.learn(total_timesteps=total_timesteps)

    horizon = mdp.horizon

    def quantiles_at(t, s, stock):
        obs = np.zeros((len(stock), mdp.n_states + 2), np.float32)
        obs[:, s] = 1.0
        obs[:, mdp.n_states] = t / horizon
        obs[:, -1] = stock
        with th.no_grad():
            return qnet(th.as_tensor(obs, device=model.device))

    def actions_at(t, s, y):
        stock = th.as_tensor(np.asarray(y, np.float32), device=model.device)
        return _objective_greedy(objective, quantiles_at(t, s, y), stock).cpu().numpy()

    z0 = quantiles_at(0, mdp.initial_state, starts)
    est = objective.utility(starts[:, None, None] + z0.cpu().numpy().astype(float)).mean(axis=1).max(axis=1)
    scores = np.array([objective.score(c, v) for c, v in zip(starts, est, strict=True)])
    k = int(np.argmax(scores))
    result = policy_result(mdp, objective, float(starts[k]), actions_at, method="qrdqn",
                           approx_value=float(scores[k]))
    result.model = model  # the trained sb3-contrib QRDQN
    return result


def _train_objective_greedy(objective: Objective):
    """QRDQN.train with the bootstrap action chosen by the objective on c' + Z(x', .) (sb3-contrib 2.x loop)."""
    import torch as th
    from sb3_contrib.common.utils import quantile_huber_loss

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            discounts = data.discounts if getattr(data, "discounts", None) is not None else self.gamma
            with th.no_grad():
                nxt = self.quantile_net_target(data.next_observations)
                act = _objective_greedy(objective, nxt, data.next_observations[:, -1])
                idx = act.view(-1, 1, 1).expand(batch_size, self.n_quantiles, 1)
                nxt = nxt.gather(dim=2, index=idx).squeeze(dim=2)
                target = data.rewards + (1 - data.dones) * discounts * nxt
            cur = self.quantile_net(data.observations)
            acts = data.actions[..., None].long().expand(batch_size, self.n_quantiles, 1)
            cur = th.gather(cur, dim=2, index=acts).squeeze(dim=2)
            loss = quantile_huber_loss(cur, target, sum_over_quantiles=True)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            if self.max_grad_norm is not None:
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)))

    return train
