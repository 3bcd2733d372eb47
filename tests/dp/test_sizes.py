"""DP sizes that cannot fit are refused before anything is allocated, naming the estimate and the limit."""

from __future__ import annotations

import itertools
import time
import tracemalloc

import pytest

from qfin.dp import CVaR, problems, solve, solve_spec
from qfin.errors import MemoryLimitError, QfinError


@pytest.fixture(autouse=True)
def _limit(monkeypatch):
    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "4")


def _refused_cheaply(call, match):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(MemoryLimitError, match=match) as info:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 5.0
    assert peak < 50 * 2**20  # refused before the big allocation, not after a failed one
    msg = str(info.value)
    assert "\n" not in msg and msg.endswith(info.value.args[0][-20:])
    return msg


def test_liquidation_of_400_shares_over_50_periods_is_refused():
    # dense [S, A, S] = 143,157 states x 401 actions x 143,157 x float64 = 59.8 TiB per array (numpy's figure)
    msg = _refused_cheaply(lambda: problems.liquidation(inventory=400, horizon=50, impact=0.01),
                           r"^needs ~2\.449e\+05 GiB for the dense \[S, A, S\] arrays of the liquidation MDP "
                           r"\(143,157 states x 401 actions\), limit 4 GiB; set QFIN_MEMORY_LIMIT_GB or reduce "
                           r"inventory, horizon or price_levels$")
    assert 4 * 143157 * 401 * 143157 * 8 / 2**30 == pytest.approx(float(msg.split("~")[1].split(" ")[0]), rel=1e-3)


def test_betting_and_wealth_process_sizes_are_refused():
    _refused_cheaply(lambda: problems.betting(max_wealth=20_000, initial_wealth=3),
                     r"^needs ~2\.385e\+05 GiB for the dense \[S, A, S\] arrays of the betting MDP \(20,001 states x "
                     r"20,001 actions\), limit 4 GiB")
    _refused_cheaply(lambda: problems.wealth_process(wealth_step=0.001, max_wealth=200.0),
                     r"dense \[S, A, S\] arrays of the wealth-process MDP \(200,001 states x 3 actions\)")


@pytest.mark.parametrize("method,knob,size,match", [
    ("quantile", "n_quantiles", 10**8, r"^needs ~1\.896e\+04 GiB for the quantile DP tables \(9 states x 202 stocks x "
                                       r"100,000,000 quantiles x 2 successors\), limit 4 GiB; set "
                                       r"QFIN_MEMORY_LIMIT_GB or reduce n_quantiles or n_stocks$"),
    ("categorical", "n_atoms", 10**8, r"^needs ~1\.887e\+04 GiB for the categorical DP tables \(9 states x 201 stocks "
                                      r"x 100,000,000 atoms x 2 successors\), limit 4 GiB; set QFIN_MEMORY_LIMIT_GB "
                                      r"or reduce n_atoms or n_stocks$"),
])
def test_quantile_and_atom_counts_are_refused(method, knob, size, match):
    # 8 bytes x 9 states x ~201 stocks x 1e8 x (2 + 6 x 2 successors) = 1.9e4 GiB (numpy's first array alone,
    # [9, 201, 1e8], is 1.32 TiB)
    assert 8 * 9 * 202 * 10**8 * 14 / 2**30 == pytest.approx(1.896e4, rel=1e-3)
    _refused_cheaply(lambda: solve(problems.betting(), CVaR(0.1), method=method, **{knob: size}), match)


def test_a_spec_with_a_huge_problem_is_refused_in_one_line(tmp_path):
    spec = tmp_path / "big.toml"
    spec.write_text('problem = "liquidation"\n[params]\ninventory = 400\nhorizon = 50\nimpact = 0.01\n'
                    '[objective]\nkind = "probability_of_target"\ntarget = 39.5\n')
    try:
        solve_spec(spec)
    except MemoryLimitError as e:
        assert "liquidation MDP (143,157 states x 401 actions), limit 4 GiB" in str(e)
    except QfinError as e:  # the spec's keys differ: say so rather than pass silently
        pytest.fail(f"spec not read as intended: {e}")
    else:
        pytest.fail("a 240,000 GiB problem was not refused")


def test_small_sizes_still_solve():
    assert solve(problems.betting(), CVaR(0.1), method="quantile", n_quantiles=64).value == pytest.approx(
        solve(problems.betting(), CVaR(0.1)).value, abs=1e-9)


def test_bad_stakes_are_one_line_errors():
    for stakes in (["a"], [], "3", [1.5], [-1], [True]):
        with pytest.raises(QfinError, match="stakes must be a non-empty list of non-negative integers"):
            problems.betting(stakes=stakes)


def test_exact_dp_whose_stocks_multiply_is_refused_at_the_step_that_would_not_fit(monkeypatch):
    import numpy as np

    from qfin.dp import FiniteMDP, achievable_returns

    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "0.01")
    rng = np.random.default_rng(0)
    # distinct irrational-looking rewards on every transition: the reachable stocks grow ninefold per step
    p = np.full((3, 3, 3), 1.0 / 3.0)
    mdp = FiniteMDP(p, rng.normal(size=(3, 3, 3)), gamma=1.0, horizon=14)
    msg = _refused_cheaply(lambda: solve(mdp, CVaR(0.1)),
                           r"^needs ~0\.0\d+ GiB for the exact DP's stock-augmented states at step \d+ of 14 "
                           r"\([\d,]+ candidate stocks\), limit 0\.01 GiB; set QFIN_MEMORY_LIMIT_GB or reduce the "
                           r"horizon or the number of distinct rewards, raise atom_tol, or use method='quantile' or "
                           r"'categorical'$")
    step = int(msg.split("at step ")[1].split(" ")[0])
    assert 4 <= step <= 8  # 9^step candidates x 48 bytes pass 10 MiB around step 6
    with pytest.raises(MemoryLimitError, match="stock-augmented states"):
        achievable_returns(mdp, 14)
    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "4")
    r = rng.normal(size=(3, 3, 3))
    short = FiniteMDP(p, r, gamma=1.0, horizon=3)
    brute = set()
    for path in itertools.product(range(3), repeat=6):  # (a0, s1, a1, s2, a2, s3)
        s_prev, total = 0, 0.0
        for a, s_next in zip(path[::2], path[1::2], strict=True):
            total += r[s_prev, a, s_next]
            s_prev = s_next
        brute.add(round(total, 8))
    assert len(achievable_returns(short, 3)) == len(brute)  # nothing refused below the limit
