"""The claim comparison (a [payoff] table, [[instruments]]): config, one-line errors, every hedger key honoured,
and a tiny end-to-end run writing metrics.json and report.html."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qfin.data.simulate import BarrierOption, HestonParams, LookbackOption, heston
from qfin.errors import SpecError
from qfin.hedging import ExperimentConfig, HedgerConfig, HedgingMarket, VarianceSwap, load_experiment_config
from qfin.hedging._claims import paired_differences

PARAMS = HestonParams(0.04, 3.0, 0.04, 0.4, -0.7)


def test_payoff_and_instrument_tables_load_from_toml(tmp_path):
    (tmp_path / "c.toml").write_text('[payoff]\nkind = "barrier"\nbarrier = 110.0\ndirection = "up"\n'
                                     '[[instruments]]\nkind = "underlying"\n[[instruments]]\nkind = "variance_swap"\n'
                                     'cost = 0.002\n[[instruments]]\nkind = "listed_option"\nmaturity_days = 60\n')
    cfg = load_experiment_config(tmp_path / "c.toml")
    assert cfg.payoff.build() == BarrierOption(100.0, 110.0, "up", "out")
    built = [i.build() for i in cfg.instruments]
    assert built[1] == VarianceSwap(0.002) and built[2].maturity == pytest.approx(60 / 365)


@pytest.mark.parametrize("text, match", [
    ('[payoff]\nkind = "barrier"\nbarrier = 90.0\ndirection = "up"\n', "an up barrier must lie above today's spot"),
    ('[payoff]\nkind = "asian"\nlow = 90.0\n', "unknown key 'payoff.low'; accepted: kind, strike, option, average"),
    ('[payoff]\nkind = "rainbow"\n', "payoff"),
    ('[[instruments]]\nkind = "variance_swap"\nstrike = 100.0\n', "strike only apply to kind = 'listed_option'"),
    ('[[instruments]]\nkind = "futures"\n', "instruments.0"),
    ('strike = 105.0\n[payoff]\nkind = "asian"\n', "strike is the default call's"),
    ('[hedger]\nlayers = 3\n', "hedger.layers has no effect with model = 'lstm'"),
    ('[hedger]\ncvar_level = 0.9\n', "hedger.cvar_level has no effect with .* loss = 'entropic'"),
])
def test_bad_tables_are_one_line_spec_errors(tmp_path, text, match):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises((SpecError, Exception), match=match) as err:
        load_experiment_config(tmp_path / "c.toml").payoff.build()
    assert "\n" not in str(err.value)


def _small_market() -> HedgingMarket:
    s, v = heston(100.0, params=PARAMS, maturity=5 / 365, n_steps=5, n_paths=256, seed=0, return_variance=True)
    return HedgingMarket(s, v, 100.0, 5 / 365, PARAMS, LookbackOption(101.0))


BASE = dict(iterations=3, batch_size=64, hidden=4)
CHANGES = {"loss": "mean_variance", "risk_aversion": 3.0, "cost": 0.01, "liquidate": False, "optimizer": "kfac",
           "lr": 0.05, "iterations": 4, "batch_size": 32, "model": "mlp", "hidden": 5, "seed": 7}
CONDITIONAL = {"cvar_level": ({"loss": "cvar"}, 0.5), "damping": ({"optimizer": "kfac"}, 1.0),
               "kl_clip": ({"optimizer": "kfac"}, 1e-6), "layers": ({"model": "mlp"}, 1)}


def test_every_hedger_key_changes_the_training(tmp_path):
    """Each HedgerConfig key, changed alone (in the setting where it applies), changes the loss history; the
    checkpoint key writes its file. (An ignored key, as hedger.lr once was in the experiment, would fail here.)"""
    from qfin.hedging import train_hedger

    market = _small_market()
    keys = set(HedgerConfig.model_fields) - {"checkpoint"}
    assert keys == set(CHANGES) | set(CONDITIONAL)
    base = train_hedger(market, HedgerConfig(**BASE)).losses
    for key, value in CHANGES.items():
        assert train_hedger(market, HedgerConfig(**{**BASE, key: value})).losses != base, key
    for key, (setting, value) in CONDITIONAL.items():
        ref = train_hedger(market, HedgerConfig(**BASE, **setting)).losses
        assert train_hedger(market, HedgerConfig(**BASE, **setting, **{key: value})).losses != ref, key
    train_hedger(market, HedgerConfig(**BASE, checkpoint=str(tmp_path / "h.pt")))
    assert (tmp_path / "h.pt").stat().st_size > 0


def test_paired_differences_are_seed_means_with_standard_errors():
    per_seed = {"adam": [{"mean": 1.0, "std": 2.0, "cvar_95": 3.0, "entropic": 4.0, "costs": 0.1},
                         {"mean": 1.2, "std": 2.2, "cvar_95": 3.4, "entropic": 4.6, "costs": 0.1}],
                "kfac": [{"mean": 0.8, "std": 1.9, "cvar_95": 2.9, "entropic": 3.5, "costs": 0.2},
                         {"mean": 1.0, "std": 2.0, "cvar_95": 3.0, "entropic": 4.5, "costs": 0.2}]}
    base = {"delta": {"mean": 1.0, "std": 2.5, "cvar_95": 4.0, "entropic": 5.0, "costs": 0.3}}
    rows = {(r["difference"], r["metric"]): r for r in paired_differences(per_seed, base)}
    r = rows[("LSTM (adam) - delta", "entropic")]
    assert r["mean"] == pytest.approx(-0.7) and r["std_error"] == pytest.approx(np.std([-1.0, -0.4], ddof=1) / 2 ** .5)
    r = rows[("LSTM (kfac) - LSTM (adam)", "entropic")]
    assert r["mean"] == pytest.approx(-0.3) and r["std_error"] == pytest.approx(0.2)


@pytest.mark.slow
def test_a_claim_experiment_writes_every_strategy_and_the_report(tmp_path):
    from qfin.hedging import run_hedging_experiment

    cfg = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0, 1),
                           payoff={"kind": "lookback", "strike": 101.0},
                           instruments=[{"kind": "underlying"}, {"kind": "variance_swap"}],
                           hedger=HedgerConfig(iterations=3, batch_size=64, hidden=4))
    summary = run_hedging_experiment(cfg, tmp_path / "run", params=PARAMS)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert list(saved["strategies"]) == ["no hedge", "delta", "Whalley-Wilmott", "delta + variance swap",
                                         "LSTM (adam)", "LSTM (kfac)"]
    assert saved["instruments"] == ["underlying", "variance swap"] and len(summary["runs"]["kfac"]) == 2
    assert any(r["difference"] == "LSTM (kfac) - LSTM (adam)" for r in saved["paired"])
    html = (tmp_path / "run" / "report.html").read_text()
    assert html.count("data:image/png;base64") == 3 and "Paired differences" in html and "{&quot;" not in html


def test_train_hedger_reports_progress_after_every_iteration():
    from qfin.hedging import train_hedger

    ticks = []
    train_hedger(_small_market(), HedgerConfig(**BASE), progress=lambda: ticks.append(1))
    assert len(ticks) == BASE["iterations"]


@pytest.mark.slow
def test_the_call_experiment_trains_the_mlp_when_asked(tmp_path):
    from qfin.hedging import run_hedging_experiment

    cfg = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0,),
                           hedger=HedgerConfig(iterations=2, batch_size=64, hidden=4, model="mlp", layers=2))
    summary = run_hedging_experiment(cfg, tmp_path / "run", params=PARAMS, progress=True)
    assert len(summary["runs"]["adam"]) == 1 and summary["strategies"]["LSTM (kfac)"]["std"] > 0


@pytest.mark.slow
def test_every_experiment_key_changes_the_comparison(tmp_path):
    """Each ExperimentConfig key, changed alone, changes the figures of the comparison (run_claim_experiment, which
    run_hedging_experiment calls for a [payoff] or [[instruments]] config)."""
    from qfin.hedging._claims import run_claim_experiment

    base = dict(maturity_days=3, n_train=128, n_test=100, seeds=(0, 1), hedger=HedgerConfig(**BASE))
    changes = {"maturity_days": 4, "n_train": 192, "n_test": 120, "strike": 101.0, "seeds": (0, 2), "adam_lr": 0.02,
               "kfac_lr": 0.2, "ww_risk_aversion": 10.0, "payoff": {"kind": "asian"},
               "instruments": [{"kind": "underlying"}, {"kind": "variance_swap"}],
               "hedger": HedgerConfig(**{**BASE, "hidden": 6})}
    assert set(changes) == set(ExperimentConfig.model_fields)

    def figures(**change):
        summary = run_claim_experiment(ExperimentConfig(**{**base, **change}), tmp_path / str(len(list(
            tmp_path.iterdir()))), PARAMS)
        return summary["strategies"]

    reference = figures()
    for key, value in changes.items():
        assert figures(**{key: value}) != reference, key
