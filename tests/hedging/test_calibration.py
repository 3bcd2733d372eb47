"""Heston calibration recovers the parameters of a synthetic surface; the historical estimate is sane."""

from __future__ import annotations

import numpy as np
import pytest

from qfin.errors import QfinError
from qfin.hedging import (
    FellerWarning,
    bs_price,
    calibrate_heston,
    heston_from_history,
    heston_price,
    vix_from_variance,
)

# 2 kappa theta / sigma^2 = 0.864: Feller fails
TRUE = {"v0": 0.05, "kappa": 1.8, "theta": 0.06, "sigma": 0.5, "rho": -0.65}


def _surface():
    k, t = np.meshgrid([80.0, 90.0, 100.0, 110.0, 120.0], [0.25, 0.5, 1.0])
    return k, t, heston_price(100.0, k, t, 0.02, **TRUE, warn=False)


@pytest.mark.solver  # scipy least_squares
def test_calibration_recovers_synthetic_parameters_and_reports_feller():
    k, t, prices = _surface()
    with pytest.warns(FellerWarning):
        fit = calibrate_heston(100.0, k, t, prices, rate=0.02, x0=(0.03, 3.0, 0.03, 0.8, -0.3))
    assert fit.max_price_error < 1e-4
    got = fit.params
    np.testing.assert_allclose([got.v0, got.kappa, got.theta, got.sigma, got.rho], list(TRUE.values()), atol=1e-3)
    assert not fit.feller and fit.feller_ratio == pytest.approx(0.864, abs=1e-3)


@pytest.mark.solver  # scipy least_squares
def test_calibration_accepts_implied_vols_and_rejects_nan_quotes():
    k, t, prices = _surface()
    from qfin.hedging import implied_vol
    vols = implied_vol(prices, 100.0, k, t, 0.02)
    with pytest.warns(FellerWarning):
        fit = calibrate_heston(100.0, k, t, vols, rate=0.02, quote_type="vol")
    assert fit.max_price_error < 1e-4
    bad = prices.copy()
    bad[1, 2] = np.nan
    with pytest.raises(QfinError, match="quotes.*NaN"):
        calibrate_heston(100.0, k, t, bad, rate=0.02)


def test_historical_estimate_from_shipped_sp500_and_vix():
    from qfin.data import load_dataset
    joined = load_dataset("sp500_index").select("timestamp", "close").join(load_dataset("vix"), on="timestamp")
    # 2014-2018 daily data, spot variance backed out of VIX^2: kappa 3.5, theta 0.061, sigma 0.64, rho -0.77
    # (VIX^2 taken as the spot variance gave kappa 25, theta 0.024, sigma 0.56)
    params = heston_from_history(joined["close"].to_numpy(), joined["VIX"].to_numpy())
    assert 0.10 < np.sqrt(params.theta) < 0.25  # long-run vol between 10 % and 25 %
    assert params.kappa > 1.0 and 0.1 < params.sigma < 2.0
    assert -0.95 < params.rho < -0.5  # leverage effect: returns and variance changes move opposite


def test_historical_estimate_recovers_a_simulated_cir_variance():
    from qfin.data.simulate import heston
    s, v = heston(100.0, v0=0.04, kappa=4.0, theta=0.04, sigma=0.3, rho=-0.7, maturity=40.0, n_steps=10080,
                  n_paths=1, seed=3, return_variance=True)
    vix = vix_from_variance(v[0], 4.0, 0.04)  # VIX^2: the expected average variance over 30 days
    params = heston_from_history(s[0], vix, periods_per_year=252.0)
    assert params.theta == pytest.approx(0.04, rel=0.15)
    assert params.kappa == pytest.approx(4.0, rel=0.35)
    assert params.sigma == pytest.approx(0.3, rel=0.05)
    assert params.rho == pytest.approx(-0.7, abs=0.05)


def test_bs_price_used_for_vol_quotes_is_consistent():
    assert bs_price(100.0, 100.0, 1.0, 0.0, 0.2) == pytest.approx(7.965567455405804, abs=1e-12)
