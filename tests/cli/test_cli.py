"""The `qfin` command end to end, run as a user runs it (a subprocess), with QFIN_HOME in a temp folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import qfin

HEAVY = ("torch", "stable_baselines3", "xgboost", "ray", "matplotlib", "sklearn", "gymnasium", "numba")


def run_qfin(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    if home is not None:
        env["QFIN_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "qfin", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_help_lists_the_data_group():
    result = run_qfin("--help")
    assert result.returncode == 0, result.stderr
    assert "data" in result.stdout


def test_version_prints_the_package_version():
    result = run_qfin("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"qfin {qfin.__version__}"


@pytest.mark.parametrize("statement", ["import qfin", "import qfin.data", "import qfin.risk",
                                       "import qfin.cli"])
def test_imports_stay_light(statement, fresh_python):
    out = fresh_python(f"{statement}; import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert out.strip() == "[]"


def test_data_list_names_every_shipped_dataset(tmp_path):
    result = run_qfin("data", "list", home=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("sp500_index", "nasdaq_index", "sp500_stocks", "vix", "german_credit", "msft"):
        assert name in result.stdout


def test_data_show_prints_schema_range_and_rows(tmp_path):
    result = run_qfin("data", "show", "sp500_index", home=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "1999-01-04" in out and "2018-12-31" in out
    assert "5,031" in out  # trading days in arch's sp500.csv
    for column in ("timestamp", "symbol", "open", "high", "low", "close", "volume"):
        assert column in out
    assert "1,228.1000" in out  # first close, 1999-01-04


def test_data_show_unknown_name_lists_known_ones(tmp_path):
    result = run_qfin("data", "show", "sp501", home=tmp_path)
    assert result.returncode == 1
    assert "sp501" in result.stderr and "sp500_index" in result.stderr
    assert "Traceback" not in result.stderr


GOOD_CSV = """Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,10,11,9.5,10.5,10.4,1000
2020-01-03,10.5,11.2,10.1,11.0,10.9,1500
2020-01-06,11.0,11.5,10.8,11.1,11.0,900
"""


def test_data_import_stores_parquet_and_lists_it(tmp_path):
    source = tmp_path / "acme.csv"
    source.write_text(GOOD_CSV)
    home = tmp_path / "home"
    result = run_qfin("data", "import", str(source), "--name", "acme", home=home)
    assert result.returncode == 0, result.stderr
    assert (home / "data" / "acme.parquet").is_file()
    listed = run_qfin("data", "list", home=home)
    assert "acme" in listed.stdout
    shown = run_qfin("data", "show", "acme", home=home)
    assert "ACME" in shown.stdout and "2020-01-06" in shown.stdout


def test_data_import_of_a_bad_file_fails_and_writes_nothing(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(GOOD_CSV.replace("11.2,10.1", "9.0,10.1"))  # high 9.0 < low 10.1 on the second row
    home = tmp_path / "home"
    result = run_qfin("data", "import", str(source), "--name", "bad", home=home)
    assert result.returncode == 1
    assert "high" in result.stderr and "Traceback" not in result.stderr
    assert not (home / "data" / "bad.parquet").exists()
    leftovers = list((home / "data").iterdir()) if (home / "data").exists() else []
    assert leftovers == []
