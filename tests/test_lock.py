"""The lock files: every install reads them, and a lock that no longer matches pyproject.toml stops `make test`
(before anything is installed) with a message that says to run `make lock`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.lock", "requirements-bench.lock")
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s=]+( ; .*)?$")


def copy_project(dest: Path) -> Path:
    """The files `make test` reads before it installs anything, copied to ``dest``."""
    for name in ("pyproject.toml", "Makefile", *LOCKS):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "tools", dest / "tools")
    return dest


def lock_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "lockfile.py"), "check", "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


def test_the_committed_locks_match_pyproject():
    result = lock_check(ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("lock", LOCKS)
def test_every_line_of_a_lock_is_an_exact_pin(lock):
    lines = [line for line in (ROOT / lock).read_text().splitlines() if line and not line.lstrip().startswith("#")]
    assert lines, f"{lock} pins nothing"
    loose = [line for line in lines if not PIN.match(line)]
    assert not loose, f"{lock} holds lines that are not name==version pins: {loose[:5]}"
    pins = dict(line.split(" ")[0].split("==") for line in lines)
    assert pins["torch"].startswith("2.13.0"), "the lock must hold the CPU torch 2.13.0 that `make` installs first"
    assert "qfin" not in pins, "the lock pins qfin's dependencies, not qfin itself"


def add_dependency(pyproject: Path, requirement: str) -> None:
    text = pyproject.read_text()
    assert 'dependencies = [\n' in text
    pyproject.write_text(text.replace('dependencies = [\n', f'dependencies = [\n    "{requirement}",\n', 1))


def test_make_test_stops_on_a_dependency_added_without_relocking(tmp_path):
    root = copy_project(tmp_path)
    add_dependency(root / "pyproject.toml", "tabulate>=0.9")
    result = subprocess.run(["make", "-C", str(root), "test", f"PYTHON={sys.executable}"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "requirements.lock does not pin 'tabulate>=0.9' (in pyproject.toml)" in result.stderr
    assert "run `make lock` and commit the lock files" in result.stderr
    assert not (root / ".venv").exists(), "nothing may be installed from a stale lock"


def test_a_changed_range_of_a_pinned_package_is_caught(tmp_path):
    root = copy_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"numpy>=1.26"', '"numpy>=1.26,<2"'))
    result = lock_check(root)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2  # one line per stale lock
    assert all("was made from other requirements than pyproject.toml's" in line for line in lines)


def test_a_missing_lock_is_named(tmp_path):
    root = copy_project(tmp_path)
    (root / "requirements-bench.lock").unlink()
    result = lock_check(root)
    assert result.returncode == 1
    assert "lock out of date: requirements-bench.lock is missing; run `make lock`" in result.stderr


def test_stamping_a_relocked_file_makes_the_check_pass_again(tmp_path):
    root = copy_project(tmp_path)
    add_dependency(root / "pyproject.toml", "tabulate>=0.9")
    for lock in LOCKS:  # what pip-compile would add
        path = root / lock
        path.write_text(path.read_text() + "tabulate==0.9.0\n    # via qfin (pyproject.toml)\n")
    assert lock_check(root).returncode == 1  # the digest still names the old requirements
    stamp = subprocess.run([sys.executable, str(ROOT / "tools" / "lockfile.py"), "stamp", "--root", str(root)],
                           capture_output=True, text=True, timeout=60)
    assert stamp.returncode == 0, stamp.stderr
    assert lock_check(root).returncode == 0
    assert not list(root.glob("*.tmp")), "stamp stages each lock and renames it into place"
