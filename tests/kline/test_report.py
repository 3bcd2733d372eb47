"""K-line reports: the forecast page (figure, close quantiles and bands per step) and the evaluation page (tables
of evaluate_kline's results). Built from hand-made forecasts and result dicts, so no checkpoint is needed; the
expected cells are computed here straight from the sample paths with numpy."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from qfin.kline import KlineForecast, write_evaluation_report, write_forecast_report

SYMBOL = "<SPX>"


def _forecast(calibrated: bool = True) -> tuple[KlineForecast, pl.DataFrame]:
    rng = np.random.default_rng(4)
    steps, samples, last = 5, 40, 100.0
    closes = last * np.exp(np.cumsum(rng.normal(0, 0.01, (samples, steps)), axis=1))
    paths = np.stack([closes, closes * 1.01, closes * 0.99, closes, np.full_like(closes, 1e6)], axis=-1)
    times = (np.datetime64("2020-01-10") + np.arange(1, steps + 1)).astype("datetime64[us]")
    calibration = {0.8: np.full(steps, 0.002)} if calibrated else {}
    context = pl.DataFrame({"timestamp": (np.datetime64("2019-12-01") + np.arange(40)).astype("datetime64[us]"),
                            "close": np.linspace(90.0, last, 40)})
    return KlineForecast(paths=paths, timestamps=times, symbol=SYMBOL, last_close=last,
                         calibration=calibration), context


def test_forecast_report_tabulates_quantiles_and_bands_per_step(tmp_path):
    forecast, context = _forecast()
    path = write_forecast_report(tmp_path / "fc.html", forecast, context, notes={"source": "dataset <x>"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fc.html", "fc.png"]
    page = path.read_text(encoding="utf-8")
    assert "K-line forecast: &lt;SPX&gt;" in page and SYMBOL not in page and "dataset &lt;x&gt;" in page
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(e) for e in embedded] == [(tmp_path / "fc.png").read_bytes()]
    assert "80% low (calibrated)" in page and "90% high (raw)" in page
    closes = forecast.paths[..., 3]
    log_returns = np.log(closes / 100.0)
    for step in range(5):
        row = re.search(rf"<tr><td>{step + 1}</td>(.*?)</tr>", page).group(1)
        cells = re.findall(r"<td>(.*?)</td>", row)
        assert cells[0] == str(forecast.timestamps[step])[:19].replace("T", " ")
        quantiles = [np.quantile(closes[:, step], q) for q in (0.05, 0.25, 0.5, 0.75, 0.95)]
        band80 = 100.0 * np.exp(np.quantile(log_returns[:, step], [0.1, 0.9]) + [-0.002, 0.002])
        band90 = 100.0 * np.exp(np.quantile(log_returns[:, step], [0.05, 0.95]))
        assert cells[1:] == [f"{v:.4g}" for v in (*quantiles, *band80, *band90)]


def test_forecast_report_needs_two_levels_and_writes_nothing_on_failure(tmp_path):
    forecast, context = _forecast(calibrated=False)
    with pytest.raises(ValueError):
        write_forecast_report(tmp_path / "fc.html", forecast, context, levels=(0.5, 0.8, 0.9))
    assert list(tmp_path.iterdir()) == []


def _result(garch: bool) -> dict:
    vol = {"kline": {"mae": 0.011, "r2": 0.21}, "persistence": {"mae": 0.013, "r2": -0.1},
           "trailing": {"mae": 0.012, "r2": 0.05}}
    if garch:
        vol["garch11"] = {"mae": 0.0105, "r2": 0.25}
    facts = {"excess_kurtosis": 3.2, "abs_acf_1_5": 0.21, "leverage": -0.08, "std": 0.012}
    return {"n_origins": 31, "pred_len": 4, "samples": 8,
            "return": {"ic": 0.05, "ic_se": 0.18, "rank_ic": 0.04, "rank_ic_se": 0.18, "n": 31},
            "volatility": vol,
            "coverage": {"0.8": {"raw": 0.7, "calibrated": 0.79, "gaussian_rw": 0.81},
                         "0.9": {"raw": 0.82, "calibrated": 0.9, "gaussian_rw": 0.9}},
            "crps": {"kline": 0.0123, "gaussian_rw": 0.0131},
            "generation": {"discriminative_score": 0.31, "real": facts, "generated": dict(facts, std=0.02),
                           "n_windows": 12}}


def test_evaluation_report_tables(tmp_path):
    results = {"<sp500>": _result(garch=True), "nasdaq_index": _result(garch=False)}
    path = write_evaluation_report(tmp_path, results, notes={"checkpoint": "models/artifacts/kline"})
    assert path == tmp_path / "evaluation.html" and [p.name for p in tmp_path.iterdir()] == ["evaluation.html"]
    page = path.read_text(encoding="utf-8")
    assert "&lt;sp500&gt;" in page and "<sp500>" not in page and "<script" not in page
    assert "<tr><td>&lt;sp500&gt;</td><td>31</td><td>4</td><td>8</td><td>12</td></tr>" in page
    assert "<tr><td>&lt;sp500&gt;</td><td>garch11</td><td>0.0105</td><td>0.25</td></tr>" in page
    assert "<tr><td>nasdaq_index</td><td>garch11</td><td>n/a</td><td>n/a</td></tr>" in page  # no arch: no GARCH
    assert "<tr><td>nasdaq_index</td><td>0.9</td><td>0.82</td><td>0.9</td><td>0.9</td></tr>" in page
    assert "<tr><td>nasdaq_index</td><td>generated</td><td>0.02</td><td>3.2</td><td>0.21</td><td>-0.08</td></tr>" \
        in page
    assert page.count("<tr><td>") == 2 * (1 + 1 + 4 + 2 + 1 + 1 + 2)  # two series in every table


def test_writing_a_report_leaves_pyplot_alone(fresh_python, tmp_path):
    """A report is drawn on qfin.report's own Agg canvas: pyplot is never imported."""
    fresh_python(f"""
import sys
from qfin.kline import write_evaluation_report
write_evaluation_report({str(tmp_path)!r}, {{"a": {{"n_origins": 3}}}})
assert "matplotlib.pyplot" not in sys.modules
""")
    assert (Path(tmp_path) / "evaluation.html").is_file()
