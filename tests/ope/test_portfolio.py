"""Portfolio candidates for OPE: the classical allocators as PortfolioEnv's action menu, checked against closed
forms and skfolio, played exactly by the wrapper, blind to the future; the menu policies; and a scaled-down run
of models/ope/portfolio.toml with its risk section."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from qfin.envs import PortfolioEnv
from qfin.errors import SpecError
from qfin.ope import OPESpec, run_ope_experiment
from qfin.ope._allocators import ALLOCATORS, AllocatorMenu, MixPolicy, PreferPolicy, allocate

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "ope" / "portfolio.toml"
# two assets over a 5-bar window, closes divided by the last close as in the observation
CLOSES = np.array([[1.00, 1.02, 0.99, 1.03, 1.05], [1.00, 0.97, 1.01, 0.98, 0.96]])
CLOSES = CLOSES / CLOSES[:, -1:]


def _returns() -> np.ndarray:
    return CLOSES[:, 1:] / CLOSES[:, :-1] - 1.0


def test_allocators_against_closed_forms():
    r = _returns()
    assert np.array_equal(allocate("cash", CLOSES), [1.0, 0.0, 0.0])
    assert np.allclose(allocate("equal_weight", CLOSES), [0.0, 0.5, 0.5], atol=1e-15)
    inv = 1.0 / r.std(axis=1, ddof=1)
    assert np.allclose(allocate("inverse_vol", CLOSES)[1:], inv / inv.sum(), atol=1e-15)
    # two assets: the minimum-variance weight of asset 1 is (s2^2 - s12) / (s1^2 + s2^2 - 2 s12)
    c = np.cov(r)
    w1 = (c[1, 1] - c[0, 1]) / (c[0, 0] + c[1, 1] - 2 * c[0, 1])
    assert 0 < w1 < 1
    assert allocate("min_variance", CLOSES)[1] == pytest.approx(w1, abs=1e-5)  # the 1e-6 ridge
    # momentum: only asset 1 went up over the window (1.05 against 0.96)
    assert np.allclose(allocate("momentum", CLOSES), [0.0, 1.0, 0.0], atol=1e-15)
    assert np.allclose(allocate("momentum", CLOSES[::-1].copy()), [0.0, 0.0, 1.0], atol=1e-15)
    assert np.array_equal(allocate("momentum", np.ones((2, 5))), [1.0, 0.0, 0.0])  # nothing went up: cash


@pytest.mark.slow  # importing skfolio (cvxpy) takes seconds
def test_inverse_vol_and_min_variance_equal_skfolio():
    """skfolio's InverseVolatility and long-only minimum variance (MeanRisk, as qfin.backtests' baseline) on the
    same returns; the minimum-variance solution here is interior, so clipping does not act: equal to the solver's
    tolerance, 1e-4."""
    from skfolio.measures import RiskMeasure
    from skfolio.optimization import InverseVolatility, MeanRisk, ObjectiveFunction

    rng = np.random.default_rng(0)
    closes = np.cumprod(1.0 + rng.normal(0.0005, [[0.01], [0.02], [0.015]], (3, 40)), axis=1)
    closes = closes / closes[:, -1:]
    r = (closes[:, 1:] / closes[:, :-1] - 1.0).T
    assert np.allclose(allocate("inverse_vol", closes)[1:], InverseVolatility().fit(r).weights_, atol=1e-12)
    min_var = MeanRisk(objective_function=ObjectiveFunction.MINIMIZE_RISK, risk_measure=RiskMeasure.VARIANCE,
                       min_weights=0.0).fit(r)
    assert np.allclose(allocate("min_variance", closes)[1:], min_var.weights_, atol=1e-4)  # the solver's tolerance


def _env(**kw) -> AllocatorMenu:
    params = {"data": "sp500_stocks", "assets": ["AAPL", "JNJ", "XOM"], "window": 10, "episode_length": 3,
              "buy_cost": 0.001, **kw}
    return AllocatorMenu(PortfolioEnv(**params), list(ALLOCATORS))


def test_the_menu_plays_each_allocators_weights():
    env = _env()
    obs, _ = env.reset(seed=3)
    for action, name in enumerate(env.names):
        expected = allocate(name, np.asarray(obs, dtype=np.float64)[0])
        obs, _, _, _, info = env.step(action)
        assert info["allocator"] == name
        assert np.allclose(info["target_weights"], expected, atol=1e-9)
        if action == 2:
            obs, _ = env.reset(seed=4)


def test_no_look_ahead_the_weights_at_t_ignore_prices_after_t():
    """The same market up to bar t, scrambled after it: identical weights at t for every allocator."""
    from qfin.data import load_dataset

    frame = load_dataset("sp500_stocks").select("timestamp", "AAPL", "JNJ", "XOM").head(60)
    later = frame.with_columns([pl.when(pl.int_range(pl.len()) > 30).then(pl.col(c) * 1.7).otherwise(pl.col(c))
                                for c in ("AAPL", "JNJ", "XOM")])
    for action in range(len(ALLOCATORS)):
        weights = []
        for data in (frame, later):
            env = AllocatorMenu(PortfolioEnv(data=data, window=10, episode_length=3), list(ALLOCATORS))
            env.reset(options={"start": 30})
            weights.append(env.step(action)[4]["target_weights"])
        assert np.array_equal(weights[0], weights[1])


def test_menu_policies_have_known_probabilities():
    values = np.arange(5.0)[:, None]
    p = PreferPolicy(values=values, prefer=2, epsilon=0.5).probs(np.zeros((3, 4)))
    assert np.allclose(p, [[0.1, 0.1, 0.6, 0.1, 0.1]] * 3, atol=1e-15)
    mix = MixPolicy(values=values, probabilities=(0.1, 0.2, 0.3, 0.2, 0.2)).probs(np.zeros((2, 4)))
    assert np.allclose(mix, [[0.1, 0.2, 0.3, 0.2, 0.2]] * 2, atol=1e-15)
    with pytest.raises(SpecError, match="summing to 1"):
        MixPolicy(values=values, probabilities=(0.5, 0.5, 0.5, 0.0, 0.0))


def _small(**edits) -> OPESpec:
    raw = tomllib.loads(SHIPPED.read_text())
    raw["env"]["params"].update(assets=["AAPL", "JNJ", "XOM"], episode_length=3, window=10)
    raw["candidates"] = raw["candidates"][:3] + raw["candidates"][-1:]
    raw.update(logging={"n_datasets": 2, "n_episodes": 100, "seed": 0}, truth={"n_episodes": 120, "seed": 1},
               assessment={"n_bootstrap": 50, "seed": 0})
    raw["risk"].update(n_bootstrap=100, thresholds=60)
    for key, value in edits.items():
        raw[key] = value
    return OPESpec.model_validate(raw)


@pytest.mark.slow  # ~5 s of CPU: rollouts, 2 x 4 x 4 bootstrapped CDFs, four figures
def test_a_small_portfolio_run_writes_the_risk_report(tmp_path):
    run = run_ope_experiment(_small(), tmp_path / "out", base=ROOT / "models" / "ope", progress=False)
    risk = run.risk
    assert set(risk.table["criterion"].unique()) == {"mean", "cvar", "safe_cvar", "safe_mean"}
    assert risk.estimates.height == 2 * 4 * 4  # datasets x candidates x estimators
    assert (risk.estimates["cvar_low"] <= risk.estimates["cvar"]).all()
    assert (risk.estimates["cvar"] <= risk.estimates["mean"] + 1e-12).all()  # the worst 5 % lies below the mean
    # the true CVaR of each policy is the mean of its worst 5 % of on-policy returns
    truth = {r["candidate"]: r for r in risk.truth.iter_rows(named=True)}
    assert truth["behavior"]["cvar"] < truth["behavior"]["mean"]
    html = (tmp_path / "out" / "report.html").read_text()
    for text in ("Risk: return distributions", "SharpeRatio@3 by selection criterion", "safe_cvar"):
        assert text in html
    for name in ("risk_cdfs.png", "risk_cvar.png", "risk_topk.png", "risk_estimates.parquet"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_spec_errors_are_one_line(tmp_path):
    with pytest.raises(SpecError, match="prefer = 'bonds' is not in the menu"):
        run_ope_experiment(_small(behavior={"kind": "allocator", "prefer": "bonds"}), base=ROOT, progress=False)
    with pytest.raises(SpecError, match="probabilities name \\['gold'\\]"):
        run_ope_experiment(_small(behavior={"kind": "mix", "probabilities": {"gold": 1.0}}), base=ROOT,
                           progress=False)
    with pytest.raises(SpecError, match="menu.allocators must name at least 2 distinct allocators"):
        run_ope_experiment(_small(menu={"allocators": ["cash", "cash"]}), base=ROOT, progress=False)
    hedging = {"id": "qfin/Hedging-v0", "actions": [0.0, 1.0]}
    with pytest.raises(SpecError, match="an allocator menu is the action set of qfin/Portfolio-v0"):
        run_ope_experiment(_small(env=hedging), base=ROOT, progress=False)
    with pytest.raises(SpecError, match="chooses among allocators; add \\[menu\\]"):
        run_ope_experiment(_small(env=hedging, menu=None), base=ROOT, progress=False)
