"""PROBLEM.toml specs and the runnable example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qfin.dp import plot_return_distributions, solve_spec
from qfin.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_liquidation_spec(tmp_path):
    result, neutral, rows, _ = solve_spec(ROOT / "models" / "dp" / "liquidation.toml")
    assert result.value == pytest.approx(0.5, abs=1e-12)  # brute force agrees (tests/dp/test_problems.py)
    assert neutral.value == pytest.approx(38.5, abs=1e-12)
    assert sum(r["probability"] for r in rows if r["t"] == 0) == pytest.approx(1.0)
    assert sum(r["probability"] for r in rows if r["t"] == 2) == pytest.approx(1.0)
    png = plot_return_distributions(result, neutral, tmp_path / "dist.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_categorical_solver_in_a_spec(tmp_path):
    text = (ROOT / "models" / "dp" / "liquidation.toml").read_text().replace(
        'method = "exact"', 'method = "categorical"\nn_atoms = 51\nn_stocks = 201')
    assert 'method = "categorical"' in text
    spec = tmp_path / "liquidation_categorical.toml"
    spec.write_text(text)
    result, _, rows, _ = solve_spec(spec)
    assert result.method == "categorical"
    assert result.value == pytest.approx(0.5, abs=1e-12)  # the brute-force optimum, reached at 51 atoms
    assert sum(r["probability"] for r in rows if r["t"] == 2) == pytest.approx(1.0)
    # one user grid for every step: 46 atoms on [0, 45] (spacing 1) reach the optimum too, 11 do not
    spec.write_text(text.replace("n_atoms = 51", "n_atoms = 46\nv_min = 0.0\nv_max = 45.0"))
    assert solve_spec(spec)[0].value == pytest.approx(0.5, abs=1e-12)
    spec.write_text(text.replace("n_atoms = 51", "n_atoms = 11\nv_min = 0.0\nv_max = 45.0"))
    assert solve_spec(spec)[0].value == pytest.approx(0.25, abs=1e-12)


_CATEGORICAL = 'problem = "betting"\n[objective]\nkind = "cvar"\nalpha = 0.1\n[solver]\nmethod = "categorical"\n'


@pytest.mark.parametrize("text,match", [
    ('problem = "lottery"\n[objective]\nkind = "cvar"\nalpha = 0.1\n', "problem"),
    (_CATEGORICAL + "n_atom = 11\n", "solver.n_atom"),
    (_CATEGORICAL + "n_atoms = 1\n", "solver.n_atoms"),
    (_CATEGORICAL + "v_min = -3.0\n", "both v_min and v_max"),
    (_CATEGORICAL + "v_min = 3.0\nv_max = -3.0\n", "v_min must be below v_max"),
    (_CATEGORICAL + "v_min = 30.0\nv_max = 45.0\n", "must contain 0"),
    (_CATEGORICAL + "v_min = nan\nv_max = 3.0\n", "solver.v_min"),
    ('problem = "betting"\n[objective]\nkind = "cvar"\n', "objective.alpha is required"),
    ('problem = "betting"\ncolour = 1\n[objective]\nkind = "cvar"\nalpha = 0.1\n', "colour"),
    ('problem = "betting"\n[params]\nwinprob = 0.3\n[objective]\nkind = "cvar"\nalpha = 0.1\n', "win_prob"),
])
def test_bad_specs_name_the_key(tmp_path, text, match):
    spec = tmp_path / "p.toml"
    spec.write_text(text)
    with pytest.raises(SpecError, match=match):
        solve_spec(spec)


def test_example_script_runs(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "models" / "solve_dp.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "optimal value 0.256" in out.stdout  # bold play from 3/8 at p = 0.4
    assert len(list(tmp_path.glob("*.png"))) == 3
