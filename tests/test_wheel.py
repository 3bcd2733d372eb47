"""The wheel works on its own: built from the source tree, installed into a fresh venv, run from outside the
repository, it lists its datasets, runs a backtest on a spec naming a shipped dataset and imports its scorecards.

The default test gives the fresh venv the lock's versions by pointing it (a .pth line) at the dependencies of
the interpreter running the suite, which `make` installed from requirements.lock. The slow test installs them
from the lock itself, as a user would (`make test-all`, or `.venv/bin/python -m pytest -m slow tests/test_wheel.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("german_credit", "msft", "nasdaq_index", "sp500_index", "sp500_stocks", "vix")
SPEC = """name = "wheel check"
rebalance = "monthly"
[data]
dataset = "sp500_stocks"
start = 2020-01-01
end = 2021-12-31
[report]
plots = false
[[strategies]]
kind = "equal_weight"
[[strategies]]
kind = "inverse_volatility"
lookback = 60
"""


def run(args: list, cwd: Path, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env=env)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel . --no-deps`` of a copy of the source tree (a build never writes into the checkout)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv*", ".git", "runs", "build", "dist", "*.egg-info",
                                                              "__pycache__", ".pytest_cache", "models", "bench"))
    run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "-w", work / "dist"], cwd=src)
    (found,) = (work / "dist").glob("qfin-*.whl")
    return found


def test_the_wheel_carries_the_datasets_and_their_card(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "qfin/data/DATA.md" in names
    for dataset in DATASETS:
        assert f"qfin/data/datasets/{dataset}.parquet" in names
    assert not any(n.startswith(("tests/", "bench/", "models/")) for n in names), "only the library ships"


def fresh_venv(path: Path) -> Path:
    run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent)
    return path / "bin" / "python"


def install_wheel(python: Path, wheel: Path) -> None:
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
        cwd=wheel.parent)


def check_installed(python: Path, venv: Path, work: Path) -> None:
    """From a folder outside the repository: qfin comes from the venv, and its three entry points work."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["QFIN_HOME"] = str(work / "qfin-home")  # no imported datasets of the user's leak in
    where = run([python, "-c", "import qfin, qfin.scorecards; print(qfin.__file__)"], cwd=work, env=env).stdout
    assert Path(where.strip()).is_relative_to(venv), f"qfin imported from {where.strip()}, not the fresh venv"
    listed = run([venv / "bin" / "qfin", "data", "list"], cwd=work, env=env).stdout
    for dataset in DATASETS:
        assert dataset in listed
    (work / "spec.toml").write_text(SPEC)
    run([venv / "bin" / "qfin", "backtest", "spec.toml", "--out", "out", "--no-progress"], cwd=work, env=env)
    metrics = json.loads((work / "out" / "metrics.json").read_text())
    assert set(metrics) == {"equal_weight", "inverse_volatility"}
    assert all(-1.0 < m["total_return"] < 5.0 for m in metrics.values())
    assert (work / "out" / "equity.parquet").is_file()


def test_the_wheel_in_a_fresh_venv_with_the_locked_dependencies(wheel, tmp_path):
    venv = tmp_path / "venv"
    python = fresh_venv(venv)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # the suite's own interpreter holds the lock's versions (make installs them from requirements.lock)
    (purelib / "locked-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install_wheel(python, wheel)
    check_installed(python, venv, tmp_path)


@pytest.mark.slow  # installs every locked dependency into a fresh venv: minutes, and the package registry
def test_the_wheel_in_a_fresh_venv_installed_from_the_lock(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "torch==2.13.0"], cwd=tmp_path, timeout=1200)
    run([python, "-m", "pip", "install", "--quiet", "-r", ROOT / "requirements.lock"], cwd=tmp_path, timeout=1800)
    install_wheel(python, wheel)
    check_installed(python, venv, tmp_path)
