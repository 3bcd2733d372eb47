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


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test, restored after it: tiny models run fastest on one thread, and the CI box
    has 2 shared cores on which torch's thread pool thrashes. Test packages of torch models use it for every
    test (their conftest asks for it in an autouse fixture)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
