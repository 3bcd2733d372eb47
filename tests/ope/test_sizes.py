"""OPE sizes that cannot fit are refused before they are rolled out, naming the estimate and the limit."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from qfin.errors import MemoryLimitError
from qfin.ope import UniformPolicy, log_episodes, policy_returns, run_episodes, run_ope_experiment
from tests.ope.test_experiment import SMALL, _spec
from tests.ope.test_rollout import MENU, _env


@pytest.fixture(autouse=True)
def _limit(monkeypatch):
    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "2")


def test_a_billion_episode_truth_is_refused_before_any_rollout():
    # the experiment asks for behavior + 3 candidates x 1e9 episodes: 4 return vectors and 2 for truth_table
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(MemoryLimitError) as info:
            policy_returns(_env, {f"p{i}": UniformPolicy(values=MENU) for i in range(4)}, 10**9)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 2.0 and peak < 20 * 2**20
    assert str(info.value) == ("needs ~44.7 GiB for the on-policy returns of 4 policies x 1,000,000,000 episodes, "
                               "limit 2 GiB; set QFIN_MEMORY_LIMIT_GB or reduce the number of ground-truth "
                               "episodes (e.g. [truth] n_episodes)")
    assert 8 * 10**9 * 6 / 2**30 == pytest.approx(44.7, abs=0.05)


def test_the_experiment_refuses_a_billion_episode_truth_and_writes_nothing(tmp_path):
    text = SMALL.replace("[truth]\nn_episodes = ", "[truth]\nn_episodes = 1000000000 #")
    assert "n_episodes = 1000000000" in text
    t0 = time.perf_counter()
    with pytest.raises(MemoryLimitError, match=r"^needs ~\d+\.?\d* GiB for the on-policy returns of \d policies x "
                                               r"1,000,000,000 episodes, limit 2 GiB; set QFIN_MEMORY_LIMIT_GB"):
        run_ope_experiment(_spec(tmp_path, text), tmp_path / "out", progress=False)
    assert time.perf_counter() - t0 < 10.0
    assert not (tmp_path / "out").exists()


def test_logged_episodes_are_refused_after_the_first_batch(monkeypatch):
    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "0.001")  # 1 MiB: 20,000 episodes x 4 steps x ~300 B do not fit
    policy = UniformPolicy(values=MENU)
    with pytest.raises(MemoryLimitError, match=r"^needs ~0\.0\d+ GiB for 20,000 logged episodes of up to 4 steps "
                                               r"\(\d+ observation dimensions\), limit 0\.001 GiB"):
        run_episodes(_env, policy, 20_000, batch=16)
    with pytest.raises(MemoryLimitError, match="logged episodes"):
        log_episodes(_env, policy, {"u": UniformPolicy(values=MENU)}, 20_000, batch=16)
    # small sizes still run
    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "2")
    assert run_episodes(_env, UniformPolicy(values=MENU), 20, batch=16).reward.shape[0] == 20
