"""qfin hedge train's seeds x optimisers runs through qfin.parallel: worker processes give the numbers of the
in-process loop, and the command accepts --backend/--workers/--address."""

from __future__ import annotations

import json

import pytest

from qfin.data.simulate import HestonParams
from qfin.hedging import ExperimentConfig, HedgerConfig, run_hedging_experiment

PARAMS = HestonParams(0.04, 3.0, 0.04, 0.6, -0.7)
TINY = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0, 1),
                        hedger=HedgerConfig(iterations=4, batch_size=64, hidden=4))


def _numbers(summary: dict) -> dict:
    return {"strategies": summary["strategies"], "runs": summary["runs"]}


@pytest.mark.slow
def test_worker_processes_give_the_in_process_numbers(tmp_path):
    alone = run_hedging_experiment(TINY, tmp_path / "alone", PARAMS)
    spread = run_hedging_experiment(TINY, tmp_path / "spread", PARAMS, n_workers=2)
    assert _numbers(spread) == _numbers(alone)
    assert json.loads((tmp_path / "spread" / "metrics.json").read_text())["strategies"] == alone["strategies"]
