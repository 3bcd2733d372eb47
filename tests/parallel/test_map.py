"""qfin.parallel.map: results in input order whatever the completion order, errors surface, bad backend named."""

from __future__ import annotations

import time

import pytest

from qfin.errors import QfinError
from qfin.parallel import map as pmap


def slow_square(x: int) -> int:
    time.sleep(0.05 * (3 - x % 3))  # later items finish first
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_input_order(workers):
    assert pmap(slow_square, range(7), n_workers=workers, progress=False) == [x * x for x in range(7)]


def test_empty_input_gives_empty_list():
    assert pmap(slow_square, [], progress=False) == []


def test_a_task_error_reaches_the_caller():
    with pytest.raises(ValueError, match="three"):
        pmap(fail_on_three, range(5), n_workers=2, progress=False)


def test_unknown_backend_lists_the_accepted_ones():
    with pytest.raises(QfinError, match="local, ray"):
        pmap(slow_square, [1], backend="dask", progress=False)
