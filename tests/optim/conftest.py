"""Every test here runs torch on one thread (the shared ``one_torch_thread`` fixture of tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Ask for the shared fixture in every test of this package."""
