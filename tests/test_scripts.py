"""Every script in models/, scorecards/ and bench/ is a program: ``--help`` prints its usage and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# bench/_peers.py and other underscore modules are helpers the scripts import, not programs
SCRIPTS = sorted(p for folder in ("models", "scorecards", "bench") for p in (ROOT / folder).glob("*.py")
                 if not p.name.startswith("_"))


def test_the_scripts_are_found():
    assert {"german_credit.py", "train_hedger.py", "run_all.py"} <= {p.name for p in SCRIPTS}


def outputs() -> set[Path]:
    """What a script could have written into the repository: its top-level entries and everything under runs/."""
    runs = ROOT / "runs"
    return set(ROOT.iterdir()) | (set(runs.rglob("*")) if runs.is_dir() else set())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_help_prints_usage_and_writes_nothing(script, tmp_path):
    before = outputs()
    result = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: "), result.stdout[:200]
    assert not list(tmp_path.iterdir()), f"--help wrote {sorted(p.name for p in tmp_path.iterdir())}"
    after = outputs()
    assert after == before, f"--help wrote into the repository: {sorted(map(str, after - before))[:5]}"
