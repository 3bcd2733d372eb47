"""The one memory estimate check (qfin.data.check_memory): the limit, its variable, and the one-line refusal."""

import pytest

from qfin.data import check_memory, memory_limit_bytes
from qfin.errors import MemoryLimitError, QfinError, SpecError


def test_limit_comes_from_the_variable_in_gib(monkeypatch):
    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", "2.5")
    assert memory_limit_bytes() == 2.5 * 2**30
    check_memory(2.5 * 2**30, "a grid", "its size")  # at the limit: allowed
    with pytest.raises(MemoryLimitError) as info:
        check_memory(3 * 2**30, "a grid of 3 x 2^27 float64", "n_points")
    msg = str(info.value)
    assert msg == ("needs ~3 GiB for a grid of 3 x 2^27 float64, limit 2.5 GiB; set QFIN_MEMORY_LIMIT_GB or "
                   "reduce n_points")
    assert "\n" not in msg and isinstance(info.value, QfinError) and isinstance(info.value, MemoryError)


def test_default_limit_is_a_share_of_physical_memory(monkeypatch):
    import os
    monkeypatch.delenv("QFIN_MEMORY_LIMIT_GB", raising=False)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory_limit_bytes() == pytest.approx(0.8 * physical)
    with pytest.raises(MemoryLimitError, match=r"^needs ~6\.554e\+04 GiB for 60 TiB, limit "):
        check_memory(2.0**46, "60 TiB", "it")


@pytest.mark.parametrize("raw", ["0", "-1", "lots", "nan", "inf"])
def test_a_bad_limit_is_a_one_line_spec_error(monkeypatch, raw):
    monkeypatch.setenv("QFIN_MEMORY_LIMIT_GB", raw)
    with pytest.raises(SpecError, match=f"QFIN_MEMORY_LIMIT_GB must be a number of GiB > 0 \\(e.g. 16\\); got '{raw}'"):
        check_memory(1.0, "x", "y")
