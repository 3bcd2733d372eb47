"""Real distribution on a multi-node Ray cluster on loopback (tests/parallel/conftest.py: a head that only
schedules and two one-CPU worker nodes): a sweep, a seeds job and a small tune give the numbers of the local
backend; a trial whose worker dies goes on from its checkpoint; a worker node killed by PID mid-run costs nothing
but time. The cluster takes ~15-20 s to start on the 2-core box: the first test (about 5 s more) runs in the default
suite, the others (the whole module ~3 min) are marked slow."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from qfin.backtests import parse_spec, run_sweep
from qfin.backtests._sweep import parse_grid
from qfin.parallel import RAY_TASK_RETRIES, run_jobs
from qfin.parallel._tune import IterativeJob, run_tune
from qfin.parallel._tune_spec import TuneSpec
from tests.parallel.jobs import counted_steps, draws_reference, logged_draws, seeded_draws

WEIGHTS_SPEC = {
    "name": "ivol",
    "data": {"dataset": "sp500_stocks", "start": "2012-01-01", "end": "2013-12-31",
             "assets": ["AAPL", "KO", "XOM", "JPM"]},
    "costs": {"fee": 0.001},
    "strategies": [{"kind": "inverse_volatility", "lookback": 60}],
}
DRAWS = {"mu": 0.0, "sigma": 1.0, "n": 500, "sleep": 0.5}


def _numbers(rows):
    return [{k: v for k, v in row.items() if k != "pid"} for row in rows]


def test_seeds_spread_over_both_worker_nodes_with_the_local_numbers(ray_cluster):
    tasks = [(DRAWS, seed) for seed in range(6)]
    out = run_jobs(seeded_draws, tasks, backend="ray", progress=False)
    assert _numbers(out) == [draws_reference(c, s) for c, s in tasks]
    assert len({row["pid"] for row in out}) >= 2  # one CPU per node and none on the head: two nodes worked


@pytest.mark.slow
def test_a_sweep_on_the_cluster_equals_the_local_sweep(ray_cluster):
    spec = parse_spec(WEIGHTS_SPEC)
    grid = parse_grid(["lookback=20:100:20"])
    on_cluster = run_sweep(spec, grid, backend="ray", progress=False)
    local = run_sweep(spec, grid, backend="local", n_workers=1, progress=False)
    assert not local.vectorised and len(local.rows) == 4
    assert on_cluster.rows == local.rows


@pytest.mark.slow
def test_the_hedger_seeds_job_on_the_cluster_equals_the_in_process_loop(ray_cluster, tmp_path):
    from qfin.hedging import run_hedging_experiment
    from tests.parallel.test_hedge_jobs import PARAMS, TINY
    from tests.parallel.test_hedge_jobs import _numbers as hedge_numbers

    alone = run_hedging_experiment(TINY, tmp_path / "alone", PARAMS)
    on_cluster = run_hedging_experiment(TINY, tmp_path / "cluster", PARAMS, backend="ray")
    assert hedge_numbers(on_cluster) == hedge_numbers(alone)


@pytest.mark.slow
def test_a_small_tune_on_the_cluster_reports_what_the_job_computes_alone(ray_cluster, tmp_path):
    from qfin.cli._jobs import JOBS

    spec = TuneSpec(job="hedger", metric="entropic", mode="min", max_iterations=2, seed=3,
                    config={"n_train": 256, "n_val": 128, "maturity_days": 5, "iterations_per_round": 2,
                            "hidden": 4, "batch_size": 64},
                    space={"lr": {"type": "grid", "values": [0.001, 0.01]}})
    result = run_tune(JOBS["hedger"], spec, tmp_path / "tune", progress=False)
    assert not result.interrupted and result.trials.height == 2
    for row in result.trials.iter_rows(named=True):
        config = {**JOBS["hedger"].defaults, **spec.config, "lr": row["lr"]}
        alone = [m["entropic"] for m, _ in _take(JOBS["hedger"].run(config, 3, None), 2)]
        curve = result.iterations.filter(result.iterations["trial_id"] == row["trial_id"]).sort("iteration")
        assert curve["entropic"].to_list() == alone
    best = min(result.trials.iter_rows(named=True), key=lambda r: r["entropic"])
    assert result.best["trial_id"] == best["trial_id"]


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


@pytest.mark.slow
def test_a_trial_whose_worker_dies_goes_on_from_its_last_checkpoint(ray_cluster, tmp_path):
    """FailureConfig(max_failures=2): the worker SIGKILLs itself at iteration 3 of 5; the trial restarts from the
    checkpoint of iteration 2, so iterations 1-2 are computed once and every reported value is the closed form."""
    log = tmp_path / "steps.log"
    spec = TuneSpec(job="counted", metric="value", mode="max", max_iterations=5, max_failures=2, seed=7,
                    config={"log": str(log), "die_at": 3}, space={"tag": {"type": "grid", "values": ["a"]}})
    job = IterativeJob("counted", counted_steps, ("value",), {"log": None, "die_at": None, "tag": None})
    result = run_tune(job, spec, tmp_path / "tune", progress=False)
    assert Path(str(log) + ".died").exists()  # it did die
    assert log.read_text().split() == ["1", "2", "3", "4", "5"]  # nothing before the checkpoint was redone
    curve = result.iterations.sort("iteration")
    assert curve["iteration"].to_list() == [1, 2, 3, 4, 5]
    assert curve["value"].to_list() == [7 + 0.5 * i for i in range(1, 6)]
    assert result.trials["error"].to_list() == [None]


@pytest.mark.slow
def test_a_worker_node_killed_by_pid_mid_run_changes_no_result(ray_cluster, tmp_path):
    """The raylet of a third node is SIGKILLed while its task runs; Ray runs the task again elsewhere (remote
    functions' max_retries = RAY_TASK_RETRIES) and the results equal the reference. Runs last: it kills a node."""
    from ray._private import ray_constants

    cluster, ray = ray_cluster
    from tests.parallel.conftest import SMALL_NODE

    victim = cluster.add_node(**SMALL_NODE)
    cluster.wait_for_nodes()
    assert RAY_TASK_RETRIES >= 1
    log = tmp_path / "attempts.log"
    config = {**DRAWS, "sleep": 1.5, "log": str(log)}
    tasks = [(config, seed) for seed in range(6)]
    killed = []

    def kill_when_busy():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not log.exists() or len(log.read_text().split()) < 3):
            time.sleep(0.05)  # three tasks started: one on each node, the victim's included
        pid = victim.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    out = run_jobs(logged_draws, tasks, backend="ray", progress=False)
    killer.join()
    assert killed
    assert _numbers(out) == [draws_reference(DRAWS, s) for _, s in tasks]
    assert len(log.read_text().split()) > len(tasks)  # a task was started again after the node died
    assert sum(not node["Alive"] for node in ray.nodes()) == 1

