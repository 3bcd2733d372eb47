"""Fixtures shared by every test package."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture
def fresh_python():
    """``run(code)``: execute ``code`` with ``python -c`` in a fresh interpreter (what an import pulls in shows only
    there) and return its stdout; the test fails with the child's stderr if it exits non-zero."""

    def run(code: str) -> str:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run
