"""The Adam vs K-FAC experiment pipeline: metrics and report files (tiny budget, marked slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qfin.hedging import HedgerConfig
from qfin.hedging._experiment import (
    ExperimentConfig,
    pnl_metrics,
    run_hedging_experiment,
)


def test_pnl_metrics_match_direct_formulas():
    rng = np.random.default_rng(0)
    pnl = rng.normal(0.1, 2.0, 1000)
    m = pnl_metrics(pnl, np.full(1000, 0.3), np.full(1000, 300.0), 0.5)
    worst = np.sort(pnl)[:50]  # (1000 - 1) * 0.05 -> 49 + 1 worst outcomes
    assert m["cvar_95"] == pytest.approx(-worst.mean())
    assert m["entropic"] == pytest.approx(np.log(np.mean(np.exp(-0.5 * pnl))) / 0.5)
    assert m["pnl_sharpe"] == pytest.approx(pnl.mean() / pnl.std(ddof=1)) and "sharpe" not in m
    assert m["costs"] == pytest.approx(0.3) and m["turnover"] == pytest.approx(300.0)


@pytest.mark.slow
def test_experiment_writes_metrics_and_report(tmp_path):
    cfg = ExperimentConfig(maturity_days=5, n_train=512, n_test=256, seeds=(0, 1),
                           hedger=HedgerConfig(iterations=12, batch_size=128, hidden=4))
    summary = run_hedging_experiment(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["strategies"]) >= {"no hedge", "BS delta", "Heston delta", "min-variance delta",
                                        "Whalley-Wilmott", "delta + variance swap", "LSTM (adam)", "LSTM (kfac)"}
    assert len(summary["speed"]) == 2
    assert "data:image/png;base64" in (tmp_path / "report.html").read_text()


def test_an_interrupted_experiment_leaves_no_output_folder(tmp_path, monkeypatch):
    import qfin.hedging._experiment as experiment

    def broken_report(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(experiment, "_report", broken_report)
    cfg = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0,),
                           hedger=HedgerConfig(iterations=2, batch_size=64, hidden=4))
    with pytest.raises(RuntimeError, match="plotting failed"):
        run_hedging_experiment(cfg, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_experiment_configs_load_from_toml_with_one_line_errors(tmp_path):
    from qfin.errors import SpecError
    from qfin.hedging import load_experiment_config

    (tmp_path / "c.toml").write_text("maturity_days = 10\nseeds = [0, 1]\n[hedger]\niterations = 3\ncost = 0\n")
    assert load_experiment_config(tmp_path / "c.toml") == ExperimentConfig(
        maturity_days=10, seeds=(0, 1), hedger=HedgerConfig(iterations=3, cost=0.0))
    for text, match in (("[hedger]\nlearning_rate = 0.1\n", "unknown key 'hedger.learning_rate'; accepted: loss, "),
                        ("[hedger]\niterations = 2.5\n", "hedger.iterations: Input should be a valid integer"),
                        ("[hedger]\nloss = \"utility\"\n", "hedger.loss: Input should be 'entropic', 'cvar' or"),
                        ("seeds = []\n", "seeds"), ("n_test = \"many\"\n", "n_test")):
        (tmp_path / "c.toml").write_text(text)
        with pytest.raises(SpecError, match=r"c\.toml: " + match):
            load_experiment_config(tmp_path / "c.toml")
    with pytest.raises(SpecError, match="HedgerConfig: lr: Input should be greater than 0"):
        HedgerConfig(lr=-1.0)
    assert HedgerConfig().replace(lr=0.1).lr == 0.1


def test_metrics_json_writes_a_nan_figure_as_null(tmp_path, monkeypatch):
    """metrics.json is strict JSON: a figure that is NaN (a constant P&L's Sharpe) is null, not NaN."""
    import qfin.hedging._experiment as experiment

    real = experiment.pnl_metrics
    monkeypatch.setattr(experiment, "pnl_metrics", lambda *a: {**real(*a), "pnl_sharpe": float("nan")})
    cfg = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0,),
                           hedger=HedgerConfig(iterations=2, batch_size=64, hidden=4))
    run_hedging_experiment(cfg, tmp_path / "run")
    text = (tmp_path / "run" / "metrics.json").read_text()
    assert "NaN" not in text and json.loads(text)["strategies"]["no hedge"]["pnl_sharpe"] is None


@pytest.mark.parametrize("key,value,instead", [("lr", 1e8, "adam_lr and kfac_lr"), ("optimizer", "kfac", "both"),
                                               ("seed", 3, "seeds")])
def test_hedger_keys_the_experiment_sets_per_run_are_refused(tmp_path, key, value, instead):
    # hedger.lr = 1e8 used to train bit-identically to the default: each run took adam_lr / kfac_lr instead
    from qfin.errors import SpecError
    from qfin.hedging import load_experiment_config

    (tmp_path / "c.toml").write_text(f"[hedger]\n{key} = {value!r}\n".replace("'", '"'))
    with pytest.raises(SpecError, match=rf"c\.toml: hedger\.{key} is set per run by the experiment and would be "
                                        rf"ignored; set .*{instead}"):
        load_experiment_config(tmp_path / "c.toml")
    with pytest.raises(SpecError, match=rf"^ExperimentConfig: hedger\.{key} is set per run"):
        ExperimentConfig(hedger=HedgerConfig(**{key: value}))
    # a copy keeps the keys it left at their defaults unset, so replace() is not refused for them
    cfg = ExperimentConfig(n_test=200, hedger=HedgerConfig(iterations=3))
    assert cfg.replace(n_test=300).n_test == 300 and cfg.replace(hedger=cfg.hedger.replace(hidden=2)).hedger.hidden == 2


def test_each_optimiser_trains_with_its_own_learning_rate(tmp_path, monkeypatch):
    import qfin.hedging._experiment as experiment

    used = []
    real = experiment.train_hedger

    def spy(market, config, **kwargs):
        used.append((config.optimizer, config.lr, config.seed))
        return real(market, config, **kwargs)

    monkeypatch.setattr(experiment, "train_hedger", spy)
    cfg = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0, 4), adam_lr=0.002, kfac_lr=0.03,
                           hedger=HedgerConfig(iterations=2, batch_size=64, hidden=4))
    run_hedging_experiment(cfg, tmp_path / "run")
    assert used == [("adam", 0.002, 0), ("kfac", 0.03, 0), ("adam", 0.002, 4), ("kfac", 0.03, 4)]


def test_too_few_paths_for_the_reported_statistics_are_refused(tmp_path):
    from qfin.errors import SpecError
    from qfin.hedging import load_experiment_config

    for text, match in (("n_test = 1\n", r"n_test: must be >= 100 \(the report's cvar_99 averages the worst 1% of "
                                          r"the test paths\); got 1"),
                        ("n_test = 99\n", "n_test: must be >= 100"),
                        ("n_train = 500\n", r"n_train must be >= hedger.batch_size \(1024\): each batch is drawn "
                                            r"from the training paths; got n_train = 500")):
        (tmp_path / "c.toml").write_text(text)
        with pytest.raises(SpecError, match=r"c\.toml: " + match):
            load_experiment_config(tmp_path / "c.toml")
    assert ExperimentConfig(n_test=100, n_train=64, hedger=HedgerConfig(batch_size=64)).n_test == 100


def test_a_diverging_hedger_stops_the_experiment_with_one_line_and_writes_nothing(tmp_path, monkeypatch):
    import torch

    import qfin.hedging._deep as deep
    from qfin.errors import TrainingDivergedError

    real = deep.hedger_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * torch.tensor(float("nan")) if calls["n"] == 3 else loss

    monkeypatch.setattr(deep, "hedger_loss", poisoned)
    cfg = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0,),
                           hedger=HedgerConfig(iterations=5, batch_size=64, hidden=4))
    with pytest.raises(TrainingDivergedError, match=r"hedger \(adam, lr 0.005, seed 0\) diverged: non-finite loss"):
        run_hedging_experiment(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
