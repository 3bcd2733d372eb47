"""The backtest report: files, PNG validity, HTML content and escaping, the rolling Sharpe, atomic writes.

References are independent of the report code: the rolling Sharpe is checked window by window against
``qfin.risk.sharpe_ratio`` and against the textbook formula sqrt(P) mean(r) / std(r, ddof=1) written out here;
drawdowns against a brute-force running peak of the equity path; the weights chart's layers against a direct
sort of the assets by average absolute weight.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from qfin.backtests import _report
from qfin.backtests._report import MAX_POINTS, TOP_ASSETS, rolling_sharpe, write_report
from qfin.errors import DataValidationError, QfinError
from qfin.risk import sharpe_ratio

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ODD_NAME = "<b>&"  # must come out escaped in the HTML and sanitised in file names
MONEY_NAME = "$x_1$"  # mathtext in matplotlib unless escaped


def _market(n_bars: int = 400, n_assets: int = 14, seed: int = 7):
    rng = np.random.default_rng(seed)
    times = (np.datetime64("2001-01-02", "D") + np.arange(n_bars)).astype("datetime64[us]")
    names = [ODD_NAME, "equal_weight", MONEY_NAME]
    equity = {name: 1e6 * np.cumprod(1.0 + rng.normal(3e-4, 0.01, n_bars)) for name in names}
    weights = {ODD_NAME: rng.dirichlet(np.ones(n_assets + 1), size=n_bars),
               "equal_weight": np.full((n_bars, n_assets + 1), 1.0 / (n_assets + 1))}
    assets = [f"ASSET{k}" for k in range(n_assets)]
    metrics = {name: {"total_return": 0.12345, "cagr": 0.0456, "volatility": 0.1789, "sharpe": 0.7123,
                      "sortino": 1.0987, "max_drawdown": -0.3333, "calmar": 0.1368, "cvar_95": 0.02468,
                      "turnover": 1.5} for name in names}
    metrics["equal_weight"]["sharpe"] = float("nan")
    notes = {"execution": "decisions at each bar's close, filled at that close", "costs": "10 bp <per side>",
             "data": "sp500_stocks: 14 assets"}
    return dict(title="Report <test> & co", timestamps=times, equity=equity, weights=weights, assets=assets,
                metrics=metrics, notes=notes)


def _final_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


TEARSHEET = {"cumulative_returns.png", "underwater.png", "yearly_returns.png", "distribution.png",
             "rolling_volatility.png"}  # rolling_beta.png only with a benchmark
EXPECTED = {"equity.png", "drawdown.png", "rolling_sharpe.png", "weights_b.png", "weights_equal_weight.png",
            "report.html", *TEARSHEET}


def test_all_files_written_and_pngs_are_valid(tmp_path):
    import matplotlib.image

    path = write_report(tmp_path, rolling_window=63, **_market())
    assert path == tmp_path / "report.html"
    assert _final_files(tmp_path) == EXPECTED  # and no temporary file left over
    for name in EXPECTED - {"report.html"}:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000
        pixels = matplotlib.image.imread(tmp_path / name)
        assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 800
        assert pixels[..., :3].std() > 0.05  # something was drawn, not a blank canvas


def test_html_is_self_contained_escaped_and_formatted(tmp_path):
    market = _market()
    page = write_report(tmp_path, **market).read_text(encoding="utf-8")
    lowered = page.lower()
    assert "http://" not in lowered and "https://" not in lowered and "<script" not in lowered
    assert "<link" not in lowered and "@import" not in lowered and "url(" not in lowered
    # Every figure embedded as a data URI, and the embedded bytes are the files' bytes.
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 5 + len(TEARSHEET)
    import base64

    embedded = {base64.b64decode(u) for u in uris}
    assert embedded == {(tmp_path / n).read_bytes() for n in EXPECTED - {"report.html"}}
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', page))
    # Names, title and notes escaped; raw markup from user text never appears.
    assert html.escape(ODD_NAME) in page and "<b>&" not in page
    assert html.escape(market["title"]) in page and "<test>" not in page
    assert "10 bp &lt;per side&gt;" in page
    assert "generated at" in page
    # Metrics formatted: percentages for fractions of value, two decimals for ratios, n/a for NaN.
    row = re.search(r"<tr><td>" + re.escape(html.escape(ODD_NAME)) + r"</td>(.*?)</tr>", page).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells == ["12.35%", "4.56%", "17.89%", "0.71", "1.10", "-33.33%", "0.14", "2.47%", "150.00%"]
    ew = re.search(r"<tr><td>equal_weight</td>(.*?)</tr>", page).group(1)
    assert re.findall(r"<td>(.*?)</td>", ew)[3] == "n/a"
    for header in ("Total return", "CAGR", "Volatility", "Sharpe", "Sortino", "Max drawdown", "Calmar", "CVaR 95%",
                   "Turnover"):
        assert f"<th>{header}" in page


def test_rolling_sharpe_equals_risk_sharpe_on_each_window():
    rng = np.random.default_rng(3)
    returns = rng.normal(4e-4, 0.012, 300)
    window, ppy = 21, 252
    rolled = rolling_sharpe(returns, window, periods_per_year=ppy)
    assert rolled.shape == returns.shape and np.all(np.isnan(rolled[: window - 1]))
    for end in (window - 1, window, 137, 250, len(returns) - 1):
        chunk = returns[end - window + 1: end + 1]
        textbook = np.sqrt(ppy) * chunk.mean() / chunk.std(ddof=1)
        assert rolled[end] == pytest.approx(float(sharpe_ratio(chunk, periods_per_year=ppy)), rel=1e-12)
        assert rolled[end] == pytest.approx(textbook, rel=1e-12)
    assert np.all(np.isnan(rolling_sharpe(returns[:10], window)))  # shorter than one window


def test_figures_get_the_full_series_drawdown_and_rolling_sharpe(tmp_path, monkeypatch):
    """What the drawdown and rolling-Sharpe figures plot, aligned with the timestamps they are drawn against."""
    seen = {}
    original_dd, original_rs = _report._drawdown_png, _report._rolling_sharpe_png
    monkeypatch.setattr(_report, "_drawdown_png",
                        lambda title, times, series, span: seen.update(dd=(times, series)) or original_dd(
                            title, times, series, span))
    monkeypatch.setattr(_report, "_rolling_sharpe_png",
                        lambda title, times, series, window, span: seen.update(rs=(times, series)) or original_rs(
                            title, times, series, window, span))
    market = _market(n_bars=300)
    window = 50
    write_report(tmp_path, rolling_window=window, **market)
    for name, equity in market["equity"].items():
        times, drawdowns = seen["dd"][0], seen["dd"][1][name]
        assert len(times) == len(drawdowns)
        # Brute force: value at each bar over the highest value so far, minus one, at the bar it is drawn.
        offset = len(equity) - len(drawdowns)
        expected = np.array([equity[t] / equity[: t + 1].max() - 1.0 for t in range(offset, len(equity))])
        np.testing.assert_allclose(drawdowns, expected, rtol=0, atol=1e-12)
        assert np.array_equal(times, market["timestamps"][offset:])
        times, sharpes = seen["rs"][0], seen["rs"][1][name]
        returns = equity[1:] / equity[:-1] - 1.0
        assert np.array_equal(times, market["timestamps"][1:]) and len(sharpes) == len(returns)
        for end in (window - 1, 120, len(returns) - 1):
            chunk = returns[end - window + 1: end + 1]
            assert sharpes[end] == pytest.approx(np.sqrt(252) * chunk.mean() / chunk.std(ddof=1), rel=1e-10)


def test_failure_while_drawing_leaves_no_files(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(_report, "_weights_png", broken)  # the equity, drawdown and Sharpe figures came first
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_report(tmp_path, **_market())
    assert _final_files(tmp_path) == set()


def test_failure_while_drawing_keeps_a_previous_report_intact(tmp_path, monkeypatch):
    write_report(tmp_path, **_market())
    before = {name: (tmp_path / name).read_bytes() for name in _final_files(tmp_path)}

    def broken(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(_report, "_rolling_sharpe_png", broken)
    with pytest.raises(RuntimeError):
        write_report(tmp_path, **_market(seed=99))
    assert {name: (tmp_path / name).read_bytes() for name in _final_files(tmp_path)} == before


def test_failure_while_writing_removes_what_was_written(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = Path.write_bytes

    def flaky(self, data):
        calls["n"] += 1
        if calls["n"] == 3:
            original(self, data[: len(data) // 2])  # a half-written temporary file
            raise OSError("disk full")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_report(tmp_path, **_market())
    assert calls["n"] == 3
    assert _final_files(tmp_path) == set()  # neither the two complete files nor the temporary one


def test_weights_chart_keeps_cash_the_top_assets_and_pools_the_rest():
    rng = np.random.default_rng(11)
    n_bars, n_assets = 50, 20
    weights = rng.normal(0.05, 0.08, size=(n_bars, n_assets + 1))  # some shorts
    weights[:, 0] = 1.0 - weights[:, 1:].sum(axis=1)
    assets = [f"A{k}" for k in range(n_assets)]
    labels, longs, shorts = _report._weight_layers(weights, assets)
    by_size = sorted(range(n_assets), key=lambda k: -np.abs(weights[:, k + 1]).mean())
    assert labels == ["cash", *[f"A{k}" for k in by_size[:TOP_ASSETS]], f"other ({n_assets - TOP_ASSETS} assets)"]
    assert longs.shape == shorts.shape == (TOP_ASSETS + 2, n_bars)
    assert np.all(longs >= 0.0) and np.all(shorts <= 0.0)
    # The stacks add up to the whole book: gross longs above zero, gross shorts below.
    np.testing.assert_allclose(longs.sum(axis=0), np.clip(weights, 0, None).sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(shorts.sum(axis=0), np.clip(weights, None, 0).sum(axis=1), atol=1e-12)
    np.testing.assert_allclose((longs + shorts).sum(axis=0), 1.0, atol=1e-12)
    # Few assets: all shown, no "other".
    labels, longs, _ = _report._weight_layers(weights[:, :6], assets[:5])
    assert labels == ["cash", "A0", "A1", "A2", "A3", "A4"]


def test_thinning_keeps_extremes_and_bounds_the_points():
    rng = np.random.default_rng(5)
    values = np.cumsum(rng.normal(size=8_300))
    values[:100] = np.nan  # leading NaN, as in a rolling statistic
    keep = _report._thin_envelope(values)
    assert len(keep) <= MAX_POINTS + 2 and np.all(np.diff(keep) > 0)
    assert keep[0] == 0 and keep[-1] == len(values) - 1
    assert np.nanargmin(values) in keep and np.nanargmax(values) in keep
    assert np.array_equal(_report._thin_envelope(values[:500]), np.arange(500))
    stride = _report._thin_stride(8_300)
    assert len(stride) <= MAX_POINTS + 1 and stride[-1] == 8_299


def test_file_stems_are_safe_and_unique():
    stems = _report._file_stems(["<b>&", "a/b", "a b", "..", "mean-var.v2"])
    assert stems == {"<b>&": "b", "a/b": "a_b", "a b": "a_b_2", "..": "strategy", "mean-var.v2": "mean-var.v2"}


@pytest.mark.parametrize(("change", "match"), [
    (lambda m: m["equity"].update({"short": np.ones(5)}), r"equity\['short'\] has shape \(5,\); expected \(400,\)"),
    (lambda m: m["weights"].update({"equal_weight": np.ones((400, 3))}), r"weights\['equal_weight'\].*\(400, 15\)"),
    (lambda m: m["weights"].update({"ghost": np.ones((400, 15))}), r"weights\['ghost'\] has no equity path"),
    (lambda m: m["equity"]["equal_weight"].__setitem__(17, np.nan), r"equity\['equal_weight'\].*rows \[17\]"),
    (lambda m: m.update(timestamps=m["timestamps"][::-1]), "strictly increasing"),
    (lambda m: m["timestamps"].__setitem__(9, np.datetime64("NaT")), r"NaT at rows \[9\]"),
    (lambda m: m["weights"][ODD_NAME].__setitem__((33, 4), np.inf), r"weights\['<b>&'\].*rows \[33\]"),
    (lambda m: m.update(timestamps=np.arange(400)), "datetime64"),
    (lambda m: m.update(equity={}), "equity is empty"),
    (lambda m: m["metrics"]["equal_weight"].update(sharpe="high"), r"metrics\['equal_weight'\]\['sharpe'\]"),
    (lambda m: m.update(rolling_window=1), "rolling_window must be an integer >= 2"),
])
def test_bad_input_is_a_qfin_error_naming_the_problem(tmp_path, change, match):
    market = _market()
    change(market)
    with pytest.raises(DataValidationError, match=match):
        write_report(tmp_path, **market)
    assert _final_files(tmp_path) == set()


def test_missing_folder_is_a_qfin_error(tmp_path):
    with pytest.raises(QfinError, match="does not exist"):
        write_report(tmp_path / "nope", **_market())


def test_non_positive_equity_falls_back_to_a_linear_axis(tmp_path):
    market = _market(n_bars=120)
    market["equity"]["equal_weight"] = np.linspace(1.0, -0.5, 120)  # a strategy that loses more than it had
    page = write_report(tmp_path, rolling_window=200, **market).read_text(encoding="utf-8")
    assert "(log scale)" not in page
    assert (tmp_path / "equity.png").read_bytes()[:8] == PNG_MAGIC


def test_flat_strategy_draws_without_warnings(tmp_path):
    """All-cash equity: zero returns, a NaN rolling Sharpe (0 / 0) and a zero drawdown; nothing to warn about."""
    market = _market(n_bars=150)
    market["equity"]["equal_weight"] = np.full(150, 1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report(tmp_path, rolling_window=20, **market)
    assert _final_files(tmp_path) == EXPECTED
    assert np.all(np.isnan(rolling_sharpe(np.zeros(60), 20)[19:]))


def test_import_does_not_load_matplotlib_and_drawing_does_not_touch_pyplot(tmp_path):
    script = f"""
import sys
import numpy as np
import qfin.backtests
assert "matplotlib" not in sys.modules, "import qfin.backtests loaded matplotlib"
from qfin.backtests._report import write_report
times = (np.datetime64("2020-01-01", "D") + np.arange(30)).astype("datetime64[us]")
write_report({str(tmp_path)!r}, title="t", timestamps=times, equity={{"a": np.linspace(1, 2, 30)}}, weights={{}},
             assets=[], metrics={{"a": {{"sharpe": 1.0}}}}, notes={{}}, rolling_window=5)
assert "matplotlib" in sys.modules and "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _final_files(tmp_path) == {"equity.png", "drawdown.png", "rolling_sharpe.png", "report.html", *TEARSHEET}
