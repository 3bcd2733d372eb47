"""The writers under fault injection, each with two tiny configurations (A: the earlier results, B: the run that is
interrupted), how to run B from the command line and from Python, and where its half-written state would show.

Helpers: :func:`snapshot` (every file under a folder, bytes), :func:`comparable` (a snapshot with what legitimately
differs between two identical runs taken out: the manifest's time and version, a backtest report's "generated at"
line, the hedger's timings), :func:`kill_qfin` (SIGKILL ``python -m qfin ...`` when a condition holds or after a
delay).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qfin.data import MANIFEST

ROOT = Path(__file__).resolve().parents[2]

BACKTEST = """
name = "tiny"
[data]
dataset = "sp500_stocks"
start = 2020-01-01
end = 2020-12-31
assets = ["AAPL", "KO", "XOM"]
[costs]
fee = {fee}
[report]
rolling_window = 21
[[strategies]]
kind = "equal_weight"
[[strategies]]
kind = "buy_and_hold"
"""

SWEEP = """
name = "sma"
[data]
dataset = "sp500_index"
start = 2005-01-01
end = 2007-12-31
[costs]
fee = {fee}
[[strategies]]
kind = "sma_crossover"
"""
SWEEP_GRID = ["fast=5:8", "slow=20:31:10"]

HEDGE = """
maturity_days = 5
n_train = 256
n_test = 128
seeds = [0]
[hedger]
iterations = 2
batch_size = 64
hidden = 4
cost = {fee}
"""

OPE = """
gamma = 1.0
[env]
id = "qfin/Hedging-v0"
actions = [0.0, 0.5, 1.0]
[env.params]
n_steps = 3
maturity = 0.05
premium_paths = 500
objective = "mean_variance"
[behavior]
kind = "delta"
temperature = 0.3
[[candidates]]
name = "delta"
kind = "delta"
epsilon = {fee}
[[candidates]]
name = "flat"
kind = "constant"
hedge = 0.0
epsilon = 0.2
[[candidates]]
name = "band"
kind = "band"
band = 0.2
temperature = 0.2
[logging]
n_datasets = 3
n_episodes = 60
[truth]
n_episodes = 200
[estimators]
names = ["tis", "pdis", "dm"]
[assessment]
ks = [2, 3]
n_bootstrap = 20
"""

DP = """
problem = "betting"
[params]
max_wealth = 8
initial_wealth = 3
win_prob = {fee}
horizon = 4
[objective]
kind = "probability_of_target"
target = 5.0
"""

SCORECARD_COLUMNS = ["status_of_existing_checking_account", "duration_in_month", "credit_amount", "target"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included), relative POSIX path -> bytes; {} if it is absent."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


GENERATED = re.compile(rb"<tr><th>generated at</th><td>[^<]*</td></tr>")


def comparable(files: dict[str, bytes], volatile: tuple[str, ...] = ()) -> dict[str, object]:
    """``files`` with what two identical runs may differ in replaced: the manifest's written_at and qfin_version
    (and the checksums of ``volatile`` files), a backtest report's "generated at" row, and the ``volatile`` files
    themselves (given as parsed JSON without timings when they are JSON)."""
    out: dict[str, object] = {}
    for name, data in files.items():
        if name.endswith(MANIFEST):
            manifest = json.loads(data)
            entries = {}
            for entry, record in manifest["files"].items():
                record = {k: v for k, v in record.items() if k not in ("written_at", "qfin_version")}
                if Path(entry).name in volatile or entry.endswith("report.html"):
                    record = {k: v for k, v in record.items() if k not in ("bytes", "sha256")}
                entries[entry] = record
            out[name] = {"kind": manifest["kind"], "spec_hash": manifest.get("spec_hash"), "files": entries}
        elif Path(name).name in volatile:
            out[name] = _without_timings(json.loads(data)) if name.endswith(".json") else "volatile"
        else:
            out[name] = GENERATED.sub(b"", data)
    return out


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if "seconds" not in k and k != "speed"}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@dataclass
class Kill:
    killed: bool  # False: the process finished before the kill point
    seconds: float  # from the start to the kill (or the end)
    stderr: str


def kill_qfin(args: list[str], cwd: Path, env: dict[str, str], *, when: Callable[[], bool] | None = None,
              delay: float = 0.0, timeout: float = 300.0) -> Kill:
    """Run ``python -m qfin *args``; SIGKILL it ``delay`` seconds after ``when()`` first holds (polled every
    millisecond), or ``delay`` seconds after the start when ``when`` is None."""
    log = cwd / f"stderr-{time.monotonic_ns()}.txt"
    with log.open("w") as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "qfin", *args], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        armed = when is None
        fire = start + delay
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if not armed and when():
                    armed, fire = True, now + delay
                if armed and now >= fire:
                    proc.send_signal(signal.SIGKILL)
                    break
                if now - start > timeout:
                    raise AssertionError(f"qfin {' '.join(args)} ran over {timeout} s")
                time.sleep(0.001)
        finally:
            if proc.poll() is None and not armed:
                proc.kill()
            proc.wait()  # reaped: its pid is gone, so the next run may clear what it left
    seconds = time.monotonic() - start
    text = log.read_text()
    log.unlink()
    return Kill(proc.returncode == -signal.SIGKILL, seconds, text)


def qfin_env(home: Path) -> dict[str, str]:
    return dict(os.environ, QFIN_HOME=str(home), COLUMNS="200", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


@dataclass
class Writer:
    """One writer under test. ``run(config, out)`` writes in this process; ``cli(config, out)`` is the command."""

    name: str
    owns_folder: bool  # True: staged_output (the folder is qfin's); False: files added to a folder (dp, import)
    volatile: tuple[str, ...]
    write_config: Callable[[Path, str], Path]  # (folder, variant "a"/"b") -> config path
    run: Callable[[Path, Path], None]
    cli: Callable[[Path, Path], list[str]]


def _backtest_config(folder: Path, variant: str) -> Path:
    path = folder / "bt.toml"
    path.write_text(BACKTEST.format(fee={"a": 0.001, "b": 0.002}[variant]))
    return path


def _run_backtest(config: Path, out: Path) -> None:
    from qfin.backtests import run_backtest

    run_backtest(config, out_dir=out, progress=False)


def _sweep_config(folder: Path, variant: str) -> Path:
    path = folder / "sma.toml"
    path.write_text(SWEEP.format(fee={"a": 0.001, "b": 0.002}[variant]))
    return path


def _run_sweep(config: Path, out: Path) -> None:
    from qfin.backtests import load_spec
    from qfin.backtests._sweep import parse_grid, run_sweep
    from qfin.data import config_hash

    spec, grid = load_spec(config), parse_grid(SWEEP_GRID)
    result = run_sweep(spec, grid, progress=False)
    result.write(out, spec_hash=config_hash({"spec": spec, "grid": grid, "strategy": None, "sort_by": "sharpe"}))


def _scorecard_config(folder: Path, variant: str) -> Path:
    from qfin.data import load_dataset

    frame = load_dataset("german_credit").select(SCORECARD_COLUMNS)
    path = folder / "card.csv"
    (frame if variant == "a" else frame.head(800)).write_csv(path)
    return path


def _run_scorecard(config: Path, out: Path) -> None:
    from qfin.data import read_table
    from qfin.scorecards import build_scorecard

    build_scorecard(read_table(str(config)), "target", out, seed=0, title=f"Scorecard: {config.stem}")


def _hedge_config(folder: Path, variant: str) -> Path:
    path = folder / "hedge.toml"
    path.write_text(HEDGE.format(fee={"a": 0.001, "b": 0.002}[variant]))
    return path


def _run_hedge(config: Path, out: Path) -> None:
    from qfin.hedging import load_experiment_config, run_hedging_experiment

    run_hedging_experiment(load_experiment_config(config), out)


def _ope_config(folder: Path, variant: str) -> Path:
    path = folder / "ope.toml"
    path.write_text(OPE.format(fee={"a": 0.1, "b": 0.15}[variant]))
    return path


def _run_ope(config: Path, out: Path) -> None:
    from qfin.ope import run_ope_experiment

    run_ope_experiment(config, out, progress=False)


def _dp_config(folder: Path, variant: str) -> Path:
    path = folder / "betting.toml"
    path.write_text(DP.format(fee={"a": 0.4, "b": 0.45}[variant]))
    return path


def _run_dp(config: Path, out: Path) -> None:
    from qfin.data import config_hash
    from qfin.dp import load_spec, solve_spec, write_solve_report

    result, neutral, rows, _ = solve_spec(config)
    write_solve_report(out / f"{config.stem}.html", result, neutral, rows, title=config.name,
                       spec_hash=config_hash(load_spec(config)))


def _import_config(folder: Path, variant: str) -> Path:
    from qfin.data import load_dataset

    path = folder / "bars.csv"
    load_dataset("msft" if variant == "b" else "sp500_index").write_csv(path)
    return path


def _run_import(config: Path, out: Path) -> None:
    """``out`` is QFIN_HOME; the dataset is stored as ``out/data/bars.parquet``."""
    from qfin.data import import_bars

    before = os.environ.get("QFIN_HOME")
    os.environ["QFIN_HOME"] = str(out)
    try:
        import_bars(config, "bars", overwrite=True)
    finally:
        if before is None:
            del os.environ["QFIN_HOME"]
        else:
            os.environ["QFIN_HOME"] = before


WRITERS = {
    "backtest": Writer("backtest", True, (), _backtest_config, _run_backtest,
                       lambda c, o: ["backtest", str(c), "--out", str(o), "--no-progress"]),
    "sweep": Writer("sweep", True, (), _sweep_config, _run_sweep,
                    lambda c, o: ["sweep", str(c), *(x for g in SWEEP_GRID for x in ("--grid", g)), "--out", str(o)]),
    "scorecard": Writer("scorecard", True, (), _scorecard_config, _run_scorecard,
                        lambda c, o: ["scorecard", "build", str(c), "--target", "target", "--out", str(o)]),
    "hedge": Writer("hedge", True, ("metrics.json", "report.html"), _hedge_config, _run_hedge,
                    lambda c, o: ["hedge", "train", str(c), "--out", str(o)]),
    "ope": Writer("ope", True, (), _ope_config, _run_ope, lambda c, o: ["ope", "run", str(c), "--out", str(o)]),
    "dp": Writer("dp", False, (), _dp_config, _run_dp, lambda c, o: ["dp", "solve", str(c), "--out", str(o)]),
    "import": Writer("import", False, (), _import_config, _run_import,
                     lambda c, o: ["data", "import", str(c), "--name", "bars", "--overwrite"]),
}
