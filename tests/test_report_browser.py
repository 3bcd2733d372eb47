"""Every qfin report opens in headless Chromium with no console error, no failed load and every image decoded.

How: one subprocess writes every report (backtest, scorecard, hedging, OPE, DP, K-line forecast and evaluation)
from tiny fixtures, with user text that would run a script if any of it were left unescaped, after
``matplotlib.use("svg")``; it checks at the end that the backend is still "svg" and pyplot was never imported.
Then one Chromium (``--headless --remote-debugging-pipe``) opens each page and the test listens to the DevTools
protocol rather than scraping stderr: ``Runtime.consoleAPICalled`` (console.error / assert),
``Runtime.exceptionThrown``, ``Log.entryAdded`` at level "error" (failed resource loads, blocked content) and
``Network.requestWillBeSent`` for any URL that is not the page itself or a ``data:`` URI (a report must stand
alone). After the load event, ``Runtime.evaluate`` awaits ``img.decode()`` on every image (it rejects for an
image that cannot be decoded) and reads ``naturalWidth``, the document's charset, its standards mode and
whether any script element exists. A deliberately broken page checks that this detector does see failures.

Skipped, saying why, when /usr/bin/chromium is absent (``apt-get install chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import fcntl
import html
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="headless Chromium not installed at /usr/bin/chromium "
                                       "(apt-get install -y chromium; .ci/run does this)")

HOSTILE = "<script>console.error('injected')</script><img src=x onerror=console.error('injected')>"

GENERATE = r'''
import json, sys
from pathlib import Path
import matplotlib
matplotlib.use("svg")  # a caller's non-Agg backend: writing reports must leave it as it is
import numpy as np
import polars as pl

out = Path(sys.argv[1])
hostile = sys.argv[2]
pages = {}

from qfin.backtests._report import write_report as backtest_report
n, k = 120, 3
rng = np.random.default_rng(0)
times = (np.datetime64("2020-01-01", "D") + np.arange(n)).astype("datetime64[us]")
equity = {hostile: 1e6 * np.cumprod(1 + rng.normal(3e-4, 0.01, n)), "equal_weight": np.linspace(1e6, 1.1e6, n)}
(out / "backtest").mkdir()
# the tearsheet in full: a benchmark (rolling beta, dashed lines), drawdown periods, a trade list longer than its cap
n_trades = 230
trades = pl.DataFrame({"strategy": [hostile] * n_trades, "asset": [hostile] * n_trades,
                       "entry_time": np.resize(times, n_trades), "exit_time": np.resize(times, n_trades),
                       "entry_price": np.full(n_trades, 10.0), "exit_price": np.full(n_trades, 11.0),
                       "size": np.ones(n_trades), "pnl": np.ones(n_trades), "return": np.full(n_trades, 0.1),
                       "duration_bars": np.ones(n_trades, dtype=np.int64), "exit_reason": [hostile] * n_trades})
drawdowns = [{"start": "2020-01-02", "trough": "2020-01-09", "recovery": None, "length_bars": 9, "depth": -0.05}]
pages["backtest"] = backtest_report(
    out / "backtest", title=hostile, timestamps=times, equity=equity,
    weights={hostile: rng.dirichlet(np.ones(k + 1), size=n)}, assets=[f"A{i}" for i in range(k)],
    metrics={name: {"sharpe": 1.0, "max_drawdown": -0.1, "beta": None, "drawdowns": drawdowns} for name in equity},
    notes={"costs": hostile}, rolling_window=20, benchmark=(hostile, 1e6 * np.cumprod(1 + rng.normal(0, 0.01, n))),
    trades=trades, initial_cash=1e6)
assert "rolling_beta" in Path(pages["backtest"]).read_text() and "30 more" in Path(pages["backtest"]).read_text()

from qfin.data import load_dataset
from qfin.scorecards import build_scorecard
german = load_dataset("german_credit").select("duration_in_month", "credit_amount", "age_in_years", "target")
build_scorecard(german, "target", out / "scorecard", protected=["age_in_years<25"], n_boot=20, title=hostile)
pages["scorecard"] = out / "scorecard" / "report.html"

from qfin.hedging import HedgerConfig
from qfin.hedging._experiment import ExperimentConfig, run_hedging_experiment
cfg = ExperimentConfig(maturity_days=5, n_train=256, n_test=128, seeds=(0,),
                       hedger=HedgerConfig(iterations=2, batch_size=64, hidden=4))
run_hedging_experiment(cfg, out / "hedging")
pages["hedging"] = out / "hedging" / "report.html"

from qfin.ope import assess_estimators, write_report as ope_report
truth = {"a": 1.0, "b": 4.0, "c": 2.0, "d": 3.0}
values = {hostile: [[0.9, 0.5, 0.7, 0.1], [0.1, 0.9, 0.2, 0.3]], "dm": [[1, 2, 3, 4], [1, 3, 2, 4]]}
estimates = pl.DataFrame([{"dataset": d, "candidate": c, "estimator": e, "value": float(v)}
                          for e, sets in values.items() for d, row in enumerate(sets) for c, v in zip("abcd", row)])
table = assess_estimators(estimates, truth, 1.5, n_bootstrap=50)
truth_frame = pl.DataFrame({"candidate": list(truth), "value": list(truth.values()), "stderr": [0.1] * 4,
                            "gap_to_next": [0.5, None, 0.5, 0.5], "gap_stderr": [0.1, None, 0.1, 0.1]})
pages["ope"] = ope_report(out / "ope", table, title=hostile, notes=hostile, truth=truth_frame)

from qfin.dp import solve_spec, write_solve_report
result, neutral, rows, _ = solve_spec(Path(sys.argv[3]) / "models" / "dp" / "liquidation.toml")
pages["dp"] = write_solve_report(out / "dp" / "liquidation.html", result, neutral, rows, title=hostile)

from qfin.kline import KlineForecast, write_evaluation_report, write_forecast_report
steps, samples = 6, 30
closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (samples, steps)), axis=1))
paths = np.stack([closes, closes * 1.01, closes * 0.99, closes, np.full_like(closes, 1e6)], axis=-1)
forecast = KlineForecast(paths=paths, timestamps=times[-1] + np.arange(1, steps + 1) * np.timedelta64(1, "D"),
                         symbol=hostile, last_close=100.0, calibration={0.8: np.full(steps, 0.002)})
context = pl.DataFrame({"timestamp": times, "close": np.linspace(90.0, 100.0, n)})
pages["kline_forecast"] = write_forecast_report(out / "kline" / "forecast.html", forecast, context,
                                                notes={"source": hostile})
facts = {"excess_kurtosis": 3.0, "abs_acf_1_5": 0.2, "leverage": -0.1, "std": 0.01}
evaluation = {"n_origins": 30, "pred_len": 4, "samples": 8,
              "return": {"ic": 0.05, "ic_se": 0.18, "rank_ic": 0.04, "rank_ic_se": 0.18, "n": 30},
              "volatility": {"kline": {"mae": 0.011, "r2": 0.2}, "persistence": {"mae": 0.013, "r2": -0.1}},
              "coverage": {"0.8": {"raw": 0.7, "calibrated": 0.79, "gaussian_rw": 0.8}},
              "crps": {"kline": 0.012, "gaussian_rw": 0.013},
              "generation": {"discriminative_score": 0.3, "real": facts, "generated": facts, "n_windows": 10}}
pages["kline_evaluation"] = write_evaluation_report(out / "kline", {hostile: evaluation}, title=hostile)

assert matplotlib.get_backend() == "svg", f"a report changed the backend to {matplotlib.get_backend()}"
assert "matplotlib.pyplot" not in sys.modules, "a report imported pyplot"
print(json.dumps({name: str(path) for name, path in pages.items()}))
'''

# Awaited in the page: every image decoded (decode() rejects a broken one), plus facts about the document.
CHECK_PAGE = """(async () => {
  const images = Array.from(document.images);
  const broken = [];
  for (const [i, img] of images.entries()) {
    try { await img.decode(); } catch (e) { broken.push(i); }
    if (!(img.naturalWidth > 0) && !broken.includes(i)) broken.push(i);
  }
  return {images: images.length, broken: broken, charset: document.characterSet, mode: document.compatMode,
          scripts: document.scripts.length, title: document.title};
})()"""


class Chromium:
    """A headless Chromium driven over the DevTools protocol on a pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = self._pipe()
        self._from_browser, from_browser_w = self._pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        # bash (dash takes one-digit fds only) puts the pipe ends at the fds Chromium expects, then execs it
        self._process = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}', str(CHROMIUM), *flags],
            pass_fds=(to_browser_r, from_browser_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable", session=self.session)

    @staticmethod
    def _pipe() -> tuple[int, int]:
        """A pipe whose ends sit above fd 10, so moving them to 3 and 4 in the child cannot clobber each other."""
        ends = []
        for fd in os.pipe():
            ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
            os.close(fd)
        return ends[0], ends[1]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._read(deadline))

    def open(self, path: Path) -> tuple[dict, list[str]]:
        """Load ``path``; return the page's checks and every problem the browser reported while loading it."""
        self.events = []
        url = path.resolve().as_uri()
        navigated = self.call("Page.navigate", {"url": url}, session=self.session)
        problems = [f"navigation failed: {navigated['errorText']}"] if navigated.get("errorText") else []
        self.wait_for("Page.loadEventFired")
        checks = self.call("Runtime.evaluate", {"expression": CHECK_PAGE, "awaitPromise": True,
                                                "returnByValue": True}, session=self.session)["result"]["value"]
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                problems.append("console." + params["type"] + ": " + " ".join(
                    str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                problems.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                problems.append(f"log error: {params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent":
                requested = params["request"]["url"]
                if requested != url and not requested.startswith("data:"):
                    problems.append(f"request outside the page: {requested}")
            elif method == "Network.loadingFailed":
                problems.append(f"load failed: {params.get('errorText')}")
        return checks, problems

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def browser():
    with tempfile.TemporaryDirectory(prefix="qfin-chromium-") as profile:
        chromium = Chromium(Path(profile))
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    done = subprocess.run([sys.executable, "-c", GENERATE, str(out), HOSTILE, str(ROOT)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-4000:]
    return {name: Path(path) for name, path in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def test_every_report_renders_without_errors(browser, reports):
    assert set(reports) == {"backtest", "scorecard", "hedging", "ope", "dp", "kline_forecast", "kline_evaluation"}
    failures = {}
    for name, path in reports.items():
        checks, problems = browser.open(path)
        text = path.read_text(encoding="utf-8")
        expected_images = text.count("<img ")
        if checks["broken"]:
            problems.append(f"images that did not decode: {checks['broken']}")
        if checks["images"] != expected_images or (name != "kline_evaluation" and not checks["images"]):
            problems.append(f"{checks['images']} images in the DOM, {expected_images} in the file")
        if checks["charset"] != "UTF-8" or checks["mode"] != "CSS1Compat" or checks["scripts"]:
            problems.append(f"charset {checks['charset']}, mode {checks['mode']}, {checks['scripts']} scripts")
        if checks["title"] != html.unescape(re.search(r"<title>(.*?)</title>", text, re.S).group(1)):
            problems.append(f"title shown as {checks['title']!r}")
        if problems:
            failures[name] = problems
    assert not failures, failures


def test_the_detector_sees_a_broken_page(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>b</title></head><body>'
                    '<img src="data:image/png;base64,AAAA"><img src="missing.png">'
                    "<script>console.error('boom')</script></body></html>", encoding="utf-8")
    checks, problems = browser.open(page)
    assert checks["broken"] == [0, 1] and checks["scripts"] == 1
    assert any("console.error: boom" in p for p in problems)
    assert any("missing.png" in p for p in problems)
