"""The multi-run commands through qfin.parallel: worker processes give the numbers of the in-process loop for
qfin ope run (truth rollouts per policy, logged datasets) and qfin train (seeds); slow (worker processes start
torch and gymnasium afresh: ~10-30 s each on 2 cores)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_ope_truth_and_datasets_in_workers_equal_the_in_process_run(tmp_path):
    from qfin.ope import run_ope_experiment
    from tests.ope.test_experiment import _spec

    alone = run_ope_experiment(_spec(tmp_path), progress=False)
    spread = run_ope_experiment(_spec(tmp_path), progress=False, n_workers=2)
    assert spread.truth.equals(alone.truth)
    assert spread.estimates.equals(alone.estimates)
    assert spread.table.equals(alone.table)


def test_agent_seeds_in_workers_equal_the_in_process_runs(tmp_path):
    import torch

    from qfin.agents import train_from_config
    from tests.agents.test_config import CONFIG

    for name in ("alone", "spread"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.toml").write_text(CONFIG)
    alone = train_from_config(tmp_path / "alone" / "train.toml", kind="portfolio", progress=False)
    spread = train_from_config(tmp_path / "spread" / "train.toml", kind="portfolio", progress=False, n_workers=2)
    for a, b in zip(alone, spread, strict=True):
        assert b.out_dir.name == a.out_dir.name and b.agent.num_timesteps == a.agent.num_timesteps
        np.testing.assert_array_equal(a.rewards, b.rewards)
        assert a.best_eval_reward == b.best_eval_reward
        last = [torch.load(r.out_dir / "last" / "params.pt", weights_only=True) for r in (a, b)]
        assert last[0].keys() == last[1].keys()
        for key in last[0]:
            assert all(torch.equal(x, y) for x, y in zip(_tensors(last[0][key]), _tensors(last[1][key]), strict=True))


def _tensors(value):
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return [value] if hasattr(value, "shape") else []
