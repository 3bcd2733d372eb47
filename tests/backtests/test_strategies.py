"""Weight strategies against independent references: closed forms, scipy SLSQP solves of the same problems with
the same estimates (sample mean, np.cov with ddof = 1), risk-contribution identities, and (for HRP only) skfolio
itself as a wiring check. Every window goes through ``decide`` on a price path, so the window construction is
tested on the way."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from qfin.backtests._strategies import (
    STRATEGIES,
    BuyAndHold,
    EqualWeight,
    HierarchicalRiskParity,
    InverseVolatility,
    MaximumSharpe,
    MinimumVariance,
    PolicyStrategy,
    RiskParity,
    StrategyFallbackWarning,
    StrategyFitError,
    StrategyOutputError,
)
from qfin.errors import DataValidationError, QfinError, SpecError

pytestmark = pytest.mark.solver  # skfolio/CLARABEL fits against scipy SLSQP solves and BLAS-built covariances

BASELINE_KINDS = {"equal_weight", "buy_and_hold", "inverse_volatility", "min_variance", "max_sharpe", "risk_parity",
                  "hrp"}


def factor_returns(seed: int, n_bars: int, n_assets: int, drift: float = 0.0004) -> np.ndarray:
    """Daily-like simple returns [n_bars, n_assets] from one market factor plus idiosyncratic noise."""
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.5, 1.5, n_assets)
    vol = rng.uniform(0.008, 0.025, n_assets)
    return drift + np.outer(rng.normal(0.0, 0.01, n_bars), beta) + rng.normal(0.0, 1.0, (n_bars, n_assets)) * vol


def prices(returns: np.ndarray) -> np.ndarray:
    """Closes [T + 1, N] whose bar-to-bar simple returns are ``returns``."""
    return 100.0 * np.cumprod(np.vstack([np.ones(returns.shape[1]), 1.0 + returns]), axis=0)


def fit_last(strategy, returns: np.ndarray) -> np.ndarray:
    """Target decided at the last bar of the price path of ``returns`` (window = all of ``returns``)."""
    close = prices(returns)
    return strategy.decide(close, np.array([len(close) - 1]))[0]


def simplex_slsqp(objective, gradient, n_assets: int, max_weight: float = 1.0) -> np.ndarray:
    """Independent reference: scipy SLSQP over {sum w = 1, 0 <= w <= max_weight} from equal weights."""
    result = minimize(objective, np.full(n_assets, 1.0 / n_assets), jac=gradient, method="SLSQP",
                      bounds=[(0.0, max_weight)] * n_assets,
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n_assets)}],
                      options={"ftol": 1e-16, "maxiter": 2000})
    assert result.success or "directional derivative" in result.message, result.message
    return result.x


def min_variance_slsqp(cov: np.ndarray, max_weight: float = 1.0) -> np.ndarray:
    scaled = cov * 1e4  # same argmin; keeps SLSQP's absolute ftol meaningful
    return simplex_slsqp(lambda w: w @ scaled @ w, lambda w: 2.0 * scaled @ w, len(cov), max_weight)


def max_sharpe_slsqp(mu: np.ndarray, cov: np.ndarray, max_weight: float = 1.0) -> np.ndarray:
    def negative_sharpe(w):
        return -(mu @ w) / np.sqrt(w @ cov @ w)

    def gradient(w):
        sd = np.sqrt(w @ cov @ w)
        return -(mu / sd - (mu @ w) * (cov @ w) / sd**3)

    return simplex_slsqp(negative_sharpe, gradient, len(cov), max_weight)


# --- equal weight, buy and hold, inverse volatility -------------------------------------------------------------


def test_registry_holds_the_spec_kinds_and_buy_and_hold_trades_once():
    assert BASELINE_KINDS <= set(STRATEGIES)
    assert all(STRATEGIES[kind]().name == kind for kind in BASELINE_KINDS)
    assert [kind for kind in BASELINE_KINDS if not STRATEGIES[kind].rebalances] == ["buy_and_hold"]


@pytest.mark.parametrize("cls", [EqualWeight, BuyAndHold])
def test_equal_weight_and_buy_and_hold_targets_are_exactly_one_over_n(cls):
    close = prices(factor_returns(0, 30, 4))
    targets = cls().decide(close, np.array([0, 10, 30]))
    assert targets.shape == (3, 5)
    np.testing.assert_array_equal(targets, np.tile([0.0, 0.25, 0.25, 0.25, 0.25], (3, 1)))


def test_inverse_volatility_is_one_over_sigma_normalised():
    returns = factor_returns(1, 120, 6)
    got = fit_last(InverseVolatility(lookback=120), returns)
    # 1 / sigma_i with the sample std; skfolio's EmpiricalCovariance uses ddof = 1, which cancels in the ratio.
    inverse = 1.0 / returns.std(axis=0, ddof=1)
    assert got[0] == 0.0
    np.testing.assert_allclose(got[1:], inverse / inverse.sum(), rtol=1e-10, atol=0)


# --- minimum variance ---------------------------------------------------------------------------------------------


def test_min_variance_equals_the_closed_form_when_no_bound_binds():
    # Nearly independent assets: the unconstrained optimum Sigma^-1 1 / (1' Sigma^-1 1) is long-only, so it is
    # also the long-only optimum.
    rng = np.random.default_rng(2)
    returns = 0.0003 + rng.normal(0.0, 1.0, (252, 5)) * np.array([0.010, 0.012, 0.015, 0.011, 0.013])
    cov = np.cov(returns, rowvar=False)
    closed_form = np.linalg.solve(cov, np.ones(5))
    closed_form /= closed_form.sum()
    assert np.all(closed_form > 0.05)
    got = fit_last(MinimumVariance(lookback=252), returns)
    np.testing.assert_allclose(got, np.concatenate(([0.0], closed_form)), atol=1e-6)


@pytest.mark.parametrize("max_weight", [1.0, 0.2])
def test_min_variance_matches_an_slsqp_solve_with_active_bounds(max_weight):
    returns = factor_returns(7, 252, 8)
    cov = np.cov(returns, rowvar=False)
    reference = min_variance_slsqp(cov, max_weight)
    assert np.any(reference < 1e-6) or np.any(reference > max_weight - 1e-6)  # some bound binds
    got = fit_last(MinimumVariance(lookback=252, max_weight=max_weight), returns)
    np.testing.assert_allclose(got[1:], reference, atol=1e-5)
    assert got[1:].max() <= max_weight + 1e-9 and got[1:].min() >= 0.0


# --- maximum Sharpe -----------------------------------------------------------------------------------------------


def test_max_sharpe_recovers_a_planted_tangency_portfolio():
    # Give the window a sample mean mu = c Sigma w* exactly (shifting a sample leaves its covariance unchanged);
    # the tangency portfolio Sigma^-1 mu / 1' Sigma^-1 mu is then w*, and it is long-only, hence optimal.
    noise = factor_returns(3, 252, 5, drift=0.0)
    cov = np.cov(noise, rowvar=False)
    planted = np.array([0.1, 0.3, 0.15, 0.25, 0.2])
    mu = 5e-4 * cov @ planted / (planted @ cov @ planted)  # any positive multiple of Sigma w* will do
    returns = noise - noise.mean(axis=0) + mu
    got = fit_last(MaximumSharpe(lookback=252), returns)
    np.testing.assert_allclose(got, np.concatenate(([0.0], planted)), atol=1e-5)


@pytest.mark.parametrize("max_weight", [1.0, 0.3])
def test_max_sharpe_matches_an_slsqp_maximisation(max_weight):
    rng = np.random.default_rng(11)
    returns = factor_returns(11, 252, 8, drift=0.0) + rng.uniform(0.0, 0.0015, 8)
    mu, cov = returns.mean(axis=0), np.cov(returns, rowvar=False)
    reference = max_sharpe_slsqp(mu, cov, max_weight)
    got = fit_last(MaximumSharpe(lookback=252, max_weight=max_weight), returns)[1:]
    np.testing.assert_allclose(got, reference, atol=1e-4)

    def sharpe(w):
        return mu @ w / np.sqrt(w @ cov @ w)

    assert sharpe(got) >= sharpe(reference) - 1e-9


def test_max_sharpe_risk_free_rate_is_per_bar():
    rng = np.random.default_rng(12)
    returns = factor_returns(12, 252, 6, drift=0.0) + rng.uniform(0.0002, 0.0015, 6)
    rf = 0.0003
    mu, cov = returns.mean(axis=0), np.cov(returns, rowvar=False)
    reference = max_sharpe_slsqp(mu - rf, cov)  # excess mean over the simplex: sum w = 1 makes w' rf = rf
    got = fit_last(MaximumSharpe(lookback=252, risk_free_rate=rf), returns)[1:]
    np.testing.assert_allclose(got, reference, atol=1e-4)


def test_max_sharpe_with_every_mean_below_the_risk_free_rate_names_strategy_and_bar():
    returns = factor_returns(4, 60, 4)
    returns = returns - returns.mean(axis=0) - np.array([0.001, 0.0005, 0.002, 0.0001])  # every mean < 0
    close = prices(returns)
    stamps = np.datetime64("2021-01-01") + np.arange(len(close))
    with pytest.raises(StrategyFitError, match=r"strategy 'ms' at decision 0 \(bar 60, 2021-03-02\).*"
                                               r"MeanRisk failed.*risk-free rate") as info:
        MaximumSharpe(name="ms", lookback=60).decide(close, np.array([60]), timestamps=stamps)
    assert isinstance(info.value, QfinError) and "\n" not in str(info.value)


# --- risk parity and HRP ------------------------------------------------------------------------------------------


def test_risk_parity_equalises_risk_contributions():
    returns = factor_returns(5, 252, 8)
    w = fit_last(RiskParity(lookback=252), returns)[1:]
    cov = np.cov(returns, rowvar=False)
    contributions = w * (cov @ w)  # Maillard, Roncalli & Teiletche (2010): RC_i = w_i (Sigma w)_i
    assert np.all(w > 0) and abs(w.sum() - 1.0) < 1e-12
    # CLARABEL's stopping tolerances promise risk contributions within ~1e-5 of each other (see _CLARABEL_PARAMS);
    # 3e-6 held under Haswell, Nehalem and Zen kernels but Sandybridge's left them 7.2e-6 apart
    np.testing.assert_allclose(contributions, contributions.mean(), rtol=1e-5)


def test_hrp_weights_are_skfolios_hierarchical_risk_parity_on_the_same_window():
    # A wiring check (same window, same estimator defaults), not an independent reference.
    from skfolio.optimization import HierarchicalRiskParity as SkHRP

    returns = factor_returns(6, 200, 10)
    got = fit_last(HierarchicalRiskParity(lookback=200), returns)
    assert got[0] == 0.0 and np.all(got[1:] > 0) and abs(got.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(got[1:], SkHRP().fit(returns).weights_, rtol=1e-9, atol=1e-12)


# --- no look-ahead ------------------------------------------------------------------------------------------------

# The seven baselines; other layers may register more kinds (qfin.agents adds "agent") when imported.
ALL_KINDS = sorted(BASELINE_KINDS)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_targets_decided_at_t_ignore_prices_after_t(kind):
    close = prices(factor_returns(8, 400, 6, drift=0.001))
    bars = np.array([120, 160, 200, 240, 280, 320])
    strategy = STRATEGIES[kind]() if not STRATEGIES[kind].uses_history else STRATEGIES[kind](lookback=100)
    before = strategy.decide(close, bars)
    t = 200
    perturbed = close.copy()
    perturbed[t + 1:] *= np.random.default_rng(9).uniform(0.7, 1.3, perturbed[t + 1:].shape)
    after = strategy.decide(perturbed, bars)
    np.testing.assert_array_equal(after[bars <= t], before[bars <= t])
    if strategy.uses_history:  # the perturbation does reach later decisions, so the check above has teeth
        assert not np.allclose(after[bars > t], before[bars > t])


def test_the_window_is_the_lookback_returns_ending_at_the_decision_bar():
    close = prices(factor_returns(10, 50, 3))
    seen = []
    strategy = PolicyStrategy(lambda r: seen.append(r.copy()) or np.array([1.0, 0.0, 0.0, 0.0]), lookback=4)
    strategy.decide(close, np.array([4, 20, 50]))
    for bar, window in zip([4, 20, 50], seen, strict=True):
        by_hand = [[close[t, j] / close[t - 1, j] - 1.0 for j in range(3)] for t in range(bar - 3, bar + 1)]
        np.testing.assert_allclose(window, by_hand, rtol=1e-15)


def test_progress_is_called_once_per_decision():
    calls = []
    InverseVolatility(lookback=20).decide(prices(factor_returns(0, 100, 3)), np.arange(20, 100, 10),
                                          progress=lambda: calls.append(1))
    assert len(calls) == 8


# --- failures and fallback ----------------------------------------------------------------------------------------


def flat_stretch_close() -> np.ndarray:
    """Prices where asset 1 does not move between bars 100 and 200 (a zero-variance window there)."""
    close = prices(factor_returns(13, 300, 4))
    close[100:201, 1] = close[100, 1]
    return close


def test_a_failed_fit_raises_naming_strategy_bar_and_the_fallback_option():
    with pytest.raises(StrategyFitError, match=r"strategy 'ivol' at decision 2 \(bar 150\): skfolio "
                                               r"InverseVolatility failed: .*non positive variance.*"
                                               r"fallback = 'previous'"):
        InverseVolatility(name="ivol", lookback=20).decide(flat_stretch_close(), np.array([60, 80, 150, 250]))


@pytest.mark.parametrize("cls", [InverseVolatility, MinimumVariance, MaximumSharpe, RiskParity, HierarchicalRiskParity])
def test_fallback_previous_keeps_the_previous_target_and_warns(cls):
    close = flat_stretch_close()
    bars = np.array([60, 80, 150, 250])
    strategy = cls(lookback=20, fallback="previous")
    with pytest.warns(StrategyFallbackWarning, match=rf"'{cls.kind}' at decision 2 \(bar 150\).*kept the previous"):
        targets = strategy.decide(close, bars)
    np.testing.assert_array_equal(targets[2], targets[1])
    np.testing.assert_array_equal(targets[3], cls(lookback=20).decide(close, bars[3:])[0])


def test_fallback_cannot_help_at_the_first_decision():
    with pytest.raises(StrategyFitError, match="no previous target to keep at the first decision"):
        InverseVolatility(lookback=20, fallback="previous").decide(flat_stretch_close(), np.array([150, 250]))


# --- parameter and input validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (MinimumVariance, {"lookback": 1}, r"'min_variance' \(min_variance\): lookback must be an integer number of "
                                       r"bars >= 2, got 1"),
    (RiskParity, {"lookback": 60.0}, "lookback must be an integer number of bars >= 2, got 60.0"),
    (HierarchicalRiskParity, {"lookback": True}, "lookback must be an integer"),
    (EqualWeight, {"lookback": 20}, "uses no return history, so it takes no lookback"),
    (MinimumVariance, {"max_weight": 0.0}, r"max_weight must be a number in \(0, 1\], got 0.0"),
    (MaximumSharpe, {"max_weight": 1.5}, r"max_weight must be a number in \(0, 1\], got 1.5"),
    (MaximumSharpe, {"max_weight": "0.3"}, "max_weight must be a number"),
    (MaximumSharpe, {"risk_free_rate": float("nan")}, "risk_free_rate must be a finite number"),
    (InverseVolatility, {"fallback": "zero"}, "fallback must be 'raise' or 'previous', got 'zero'"),
    (InverseVolatility, {"name": ""}, "name must be a non-empty string"),
])
def test_bad_parameters_are_spec_errors_naming_the_strategy(cls, kwargs, message):
    with pytest.raises(SpecError, match=message):
        cls(**kwargs)


def test_unknown_parameter_is_a_type_error_the_runner_reports():
    with pytest.raises(TypeError, match="max_weigth"):
        MinimumVariance(max_weigth=0.3)


def test_max_weight_too_small_for_the_universe_is_caught_before_fitting():
    with pytest.raises(SpecError, match=r"max_weight 0.1 on 5 assets cannot add up .* >= 1/5 = 0.2"):
        MinimumVariance(lookback=20, max_weight=0.1).decide(prices(factor_returns(0, 40, 5)), np.array([30]))


@pytest.mark.parametrize(("close", "bars", "error", "message"), [
    (prices(factor_returns(0, 40, 3)), np.array([10, 30]), SpecError, "lookback 20 bars needs decisions at bar >= 20"),
    (prices(factor_returns(0, 40, 3)), np.array([30, 25]), SpecError, "strictly increasing bar indices in \\[0, 40\\]"),
    (prices(factor_returns(0, 40, 3)), np.array([30, 41]), SpecError, "strictly increasing"),
    (prices(factor_returns(0, 40, 3)), np.array([30.0]), SpecError, "integer bar indices"),
    (prices(factor_returns(0, 40, 3))[:, 0], np.array([30]), SpecError, r"\[T, N\] array"),
    (np.where(np.arange(41)[:, None] == 7, np.nan, prices(factor_returns(0, 40, 3))), np.array([30]),
     DataValidationError, r"positive and finite; bad rows \[7\]"),
])
def test_bad_inputs_to_decide_are_qfin_errors(close, bars, error, message):
    with pytest.raises(error, match=message):
        InverseVolatility(lookback=20).decide(close, bars)


# --- PolicyStrategy -----------------------------------------------------------------------------------------------


def test_policy_risky_weights_get_zero_cash_and_cash_first_weights_pass_through():
    close = prices(factor_returns(0, 30, 3))
    risky = PolicyStrategy(lambda r: [0.5, 0.25, 0.25], lookback=5).decide(close, np.array([10, 20]))
    np.testing.assert_array_equal(risky, [[0.0, 0.5, 0.25, 0.25]] * 2)
    with_cash = PolicyStrategy(lambda r: np.array([0.4, 0.6, 0.0, 0.0]), lookback=5).decide(close, np.array([10]))
    np.testing.assert_array_equal(with_cash, [[0.4, 0.6, 0.0, 0.0]])


@pytest.mark.parametrize(("output", "message"), [
    ([0.5, 0.5], r"length 2; expected 4 \(cash first\) or 3"),
    ([0.0, np.nan, 0.5, 0.5], "not all finite"),
    ([0.0, 0.3, 0.3, 0.3], "sum to 0.9, not 1"),
    ([[0.0, 0.5, 0.5]], r"must be 1-D .* got shape \(1, 3\)"),
    ("weights", "must be an array of numbers, got str"),
])
def test_policy_outputs_are_validated_naming_the_decision(output, message):
    close = prices(factor_returns(0, 30, 3))
    good = [0.0, 1 / 3, 1 / 3, 1 / 3]
    calls = []

    def policy(window):
        calls.append(1)
        return good if len(calls) == 1 else output

    with pytest.raises(StrategyOutputError, match=rf"strategy 'agent' at decision 1 \(bar 20\): weights.*{message}"):
        PolicyStrategy(policy, name="agent", lookback=5).decide(close, np.array([10, 20]))


def test_policy_must_be_callable_and_its_own_errors_propagate():
    with pytest.raises(SpecError, match="policy must be callable"):
        PolicyStrategy(np.ones(3))

    def broken(window):
        raise ZeroDivisionError("inside the policy")

    with pytest.raises(ZeroDivisionError, match="inside the policy"):
        PolicyStrategy(broken).decide(prices(factor_returns(0, 10, 2)), np.array([5]))


def test_a_window_missing_the_tight_tolerances_is_solved_again_at_skfolios_defaults(monkeypatch):
    import qfin.backtests._strategies as strategies

    returns = factor_returns(14, 100, 6)
    monkeypatch.setitem(strategies._CLARABEL_PARAMS, "max_iter", 2)  # the tight solve stops at its iteration limit
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither attempt may leak a warning
        w = fit_last(RiskParity(lookback=100), returns)[1:]
    cov = np.cov(returns, rowvar=False)
    contributions = w * (cov @ w)
    np.testing.assert_allclose(contributions, contributions.mean(), rtol=1e-3)


def test_a_solver_that_also_stops_short_at_default_settings_is_a_failure(monkeypatch):
    # skfolio only warns "Solution may be inaccurate" when CLARABEL hits its iteration limit and returns the
    # iterate; qfin must not take that silently.
    import qfin.backtests._strategies as strategies

    real_fit = strategies._fit
    monkeypatch.setattr(strategies, "_fit", lambda *a, **k: (real_fit(*a, **k)[0], "user_limit"))
    close = prices(factor_returns(14, 120, 6))
    with pytest.raises(StrategyFitError, match=r"'risk_parity' at decision 0 \(bar 120\).*RiskBudgeting: solver "
                                               r"CLARABEL stopped with status 'user_limit'"):
        RiskParity(lookback=100).decide(close, np.array([120]))
