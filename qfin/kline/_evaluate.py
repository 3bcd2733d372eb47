"""Rolling-origin evaluation of a :class:`KlinePredictor` against naive baselines on a held-out span.

Forecasts: return IC / RankIC (with the standard error ``sqrt((1 - rho^2) / (n - 2))``), realized-volatility
MAE and R^2 against persistence, trailing realized vol, GARCH(1,1), HAR-RV and Garman-Klass range volatility
(:mod:`qfin.kline._baselines`, each fitted up to its origin only); interval coverage before and after conformal
calibration (overall and by step) with the PIT histogram, and CRPS of the sample paths, both next to a Gaussian
random walk with trailing volatility. The model's volatility forecast is the median over paths of each path's
realized volatility (the point forecast that minimises expected absolute error); ``kline_rms`` is
``sqrt(mean RV^2)``, the mean-square one. Generation: the discriminative score (test error of a small
LSTM classifier telling real from generated return windows; 0.5 is perfect) and stylized facts.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats as sps

from ._baselines import volatility_baselines
from ._corpus import calendar_features
from ._normalize import FEATURES
from ._predictor import KlinePredictor, _log_interval, realized_vol_of_paths


def _ic(pred: np.ndarray, real: np.ndarray) -> dict[str, float]:
    n = len(pred)
    ic = float(np.corrcoef(pred, real)[0, 1])
    ric = float(sps.spearmanr(pred, real).statistic)

    def se(r: float) -> float:
        return float(math.sqrt(max(1 - r * r, 0.0) / max(n - 2, 1)))

    return {"ic": ic, "ic_se": se(ic), "rank_ic": ric, "rank_ic_se": se(ric), "n": n}


def crps_samples(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of an ensemble ``[..., S]`` at ``y [...]``: ``E|X - y| - E|X - X'| / 2`` (Gneiting and Raftery 2007,
    eq. 21), with the sorted-sample identity for the second term."""
    s = np.sort(samples, axis=-1)
    m = s.shape[-1]
    term1 = np.abs(s - y[..., None]).mean(-1)
    w = 2 * np.arange(1, m + 1) - m - 1
    term2 = (s * w).sum(-1) / (m * m)
    return term1 - term2


def crps_gaussian(mu: np.ndarray, sigma: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of N(mu, sigma^2) at y (Gneiting and Raftery 2007, eq. 5)."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * sps.norm.cdf(z) - 1) + 2 * sps.norm.pdf(z) - 1 / math.sqrt(math.pi))


def stylized_facts(returns: np.ndarray) -> dict[str, float]:
    """Stylized facts of log-return windows ``[N, T]``: excess kurtosis (fat tails), mean autocorrelation of
    ``|r|`` at lags 1-5 (volatility clustering), ``corr(r_t, |r_{t+1}|)`` (leverage effect: negative)."""
    r = np.asarray(returns, dtype=np.float64)
    flat = r.ravel()
    a = np.abs(r)

    def lag_corr(x, y, k):
        return float(np.corrcoef(x[:, :-k].ravel(), y[:, k:].ravel())[0, 1])

    return {"excess_kurtosis": float(sps.kurtosis(flat)),
            "abs_acf_1_5": float(np.mean([lag_corr(a, a, k) for k in range(1, 6)])),
            "leverage": lag_corr(r, a, 1), "std": float(flat.std())}


def discriminative_score(real: np.ndarray, fake: np.ndarray, seed: int = 0, epochs: int = 60) -> float:
    """Test error of a one-layer LSTM (hidden 16) classifying standardised return windows ``[N, T]`` as real or
    generated, trained on 70% and tested on 30% (Yoon et al., TimeGAN, NeurIPS 2019, uses |acc - 0.5|; here
    the error itself: 0.5 means indistinguishable, higher is better up to 0.5)."""
    import torch
    from torch import nn

    rng = np.random.default_rng(seed)
    x = np.concatenate([real, fake]).astype(np.float32)
    x = x / (x.std() + 1e-12)
    y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))]).astype(np.float32)
    order = rng.permutation(len(x))
    n_tr = int(0.7 * len(x))
    tr, te = order[:n_tr], order[n_tr:]
    torch.manual_seed(seed)
    lstm, head = nn.LSTM(1, 16, batch_first=True), nn.Linear(16, 1)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-2)
    xt, yt = torch.from_numpy(x[..., None]), torch.from_numpy(y)

    def logits(idx):
        out, _ = lstm(xt[idx])
        return head(out[:, -1]).squeeze(-1)

    for _ in range(epochs):
        loss = nn.functional.binary_cross_entropy_with_logits(logits(tr), yt[tr])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = float(((logits(te) > 0).float() != yt[te]).float().mean())
    return err


def path_vol_median(closes: np.ndarray, last_close: np.ndarray) -> np.ndarray:
    """Closes ``[N, S, H]`` and origin closes ``[N]`` -> median over paths of each path's realized volatility."""
    full = np.concatenate([np.broadcast_to(np.reshape(last_close, (-1, 1, 1)), closes.shape[:2] + (1,)),
                           closes], axis=2)
    r = np.diff(np.log(np.maximum(full, 1e-300)), axis=2)
    return np.median(np.sqrt((r ** 2).sum(2)), axis=1)


def evaluate_kline(predictor: KlinePredictor, bars: pl.DataFrame, test_start, validation_start,
                   pred_len: int = 16, samples: int = 64, stride: int | None = None, seed: int = 0,
                   levels=(0.8, 0.9), n_calibration: int = 60, generation_len: int = 32,
                   trailing: int = 63) -> dict:
    """Evaluate on one series: calibrate on ``[validation_start, test_start)``, then forecast from rolling
    origins every ``stride`` (default ``pred_len``, non-overlapping) bars of ``[test_start, end]``. Each
    origin's context is the ``lookback`` bars up to and including it (earlier bars are past data)."""
    bars = bars.sort("timestamp")
    ts = bars["timestamp"]
    closes = bars["close"].to_numpy()
    lb = predictor.config.lookback
    t_np = ts.cast(pl.Datetime("us")).to_numpy()
    t0, v0 = np.datetime64(test_start, "us"), np.datetime64(validation_start, "us")
    i_test = int(np.searchsorted(t_np, t0))
    val = bars.filter(pl.Series((t_np >= v0) & (t_np < t0)))
    predictor.calibrate(val, pred_len, levels, n_calibration, samples, seed + 1)
    stride = pred_len if stride is None else stride
    origins = np.arange(max(i_test - 1, lb - 1, trailing), len(closes) - pred_len, stride)
    ohlcv = bars.select(FEATURES).to_numpy().astype(np.float64)
    feats = predictor._features(ohlcv)
    cal = calendar_features(ts)
    paths = predictor.origins_sample(feats, cal, origins, pred_len, samples, seed, closes=closes)
    last = closes[origins]
    logr = np.diff(np.log(closes))  # logr[j]: bar j -> j + 1
    fut = origins[:, None] + np.arange(1, pred_len + 1)
    y = np.log(closes[fut] / last[:, None])  # cumulative log return to each step
    res: dict = {"n_origins": len(origins), "pred_len": pred_len, "samples": samples}

    # returns
    pred_ret = np.log(np.maximum(paths[:, :, -1, 3], 1e-300) / last[:, None]).mean(1)
    res["return"] = _ic(pred_ret, y[:, -1])

    # volatility
    rv = np.sqrt((logr[fut - 1] ** 2).sum(1))
    forecasts = {"kline": path_vol_median(paths[..., 3], last),
                 "kline_rms": realized_vol_of_paths(paths[..., 3], last),
                 **volatility_baselines(ohlcv, origins, pred_len, trailing)}
    trailing_vol = forecasts["trailing"]
    res["volatility"] = {k: {"mae": float(np.abs(v - rv).mean()),
                             "r2": float(1 - ((v - rv) ** 2).sum() / ((rv - rv.mean()) ** 2).sum())}
                         for k, v in forecasts.items()}

    # intervals and CRPS (on cumulative log returns, every step)
    r_paths = np.log(np.maximum(paths[..., 3], 1e-300) / last[:, None, None])
    sig = np.sqrt(np.arange(1, pred_len + 1))[None, :] * (trailing_vol / math.sqrt(pred_len))[:, None]
    cov = {}
    for level in levels:
        lo, hi = _log_interval(paths[..., 3], last, level)
        adj = predictor.calibration[float(level)]
        zq = sps.norm.ppf(0.5 + level / 2)
        cov[str(level)] = {"raw": float(((y >= lo) & (y <= hi)).mean()),
                           "calibrated": float(((y >= lo - adj) & (y <= hi + adj)).mean()),
                           "gaussian_rw": float((np.abs(y) <= zq * sig).mean())}
    res["coverage"] = cov
    res["coverage_by_step"] = {}
    for level in levels:
        lo, hi = _log_interval(paths[..., 3], last, level)
        adj = predictor.calibration[float(level)]
        res["coverage_by_step"][str(level)] = ((y >= lo - adj) & (y <= hi + adj)).mean(0).tolist()
    pit = (r_paths < y[:, None, :]).mean(1)  # [N, H]: where the outcome falls in its predictive distribution
    res["pit_histogram"] = np.histogram(pit.ravel(), bins=10, range=(0.0, 1.0))[0].tolist()
    band = np.quantile(paths[-1, :, :, 3], [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], axis=0)
    ctx = slice(max(int(origins[-1]) - 3 * pred_len, 0), int(origins[-1]) + 1)
    res["series"] = {"timestamps": [str(t)[:10] for t in t_np[origins]], "realized": rv.tolist(),
                     **{f"vol_{k}": v.tolist() for k, v in forecasts.items()},
                     "fan": {"context": closes[ctx].tolist(), "future": closes[fut[-1]].tolist(),
                             "quantiles": [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], "bands": band.tolist(),
                             "paths": paths[-1, :20, :, 3].tolist(), "origin": str(t_np[origins[-1]])[:10]}}
    res["crps"] = {"kline": float(crps_samples(np.moveaxis(r_paths, 1, 2), y).mean()),
                   "gaussian_rw": float(crps_gaussian(0.0, sig, y).mean())}

    # generation fidelity: continuations of generation_len bars vs what really followed
    g_orig = np.arange(max(i_test - 1, lb - 1), len(closes) - generation_len, max(generation_len // 4, 1))
    gpaths = predictor.origins_sample(feats, cal, g_orig, generation_len, 1, seed + 2, closes=closes)[:, 0]
    g_last = closes[g_orig]
    fake = np.diff(np.log(np.concatenate([g_last[:, None], np.maximum(gpaths[..., 3], 1e-300)], 1)), axis=1)
    real = logr[g_orig[:, None] + np.arange(generation_len)[None, :]]
    res["generation"] = {"discriminative_score": discriminative_score(real, fake, seed),
                         "real": stylized_facts(real), "generated": stylized_facts(fake),
                         "n_windows": len(g_orig)}
    return res
