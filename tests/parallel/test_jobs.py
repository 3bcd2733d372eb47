"""qfin.parallel.run_jobs and connect: (config, seed) jobs give the same numbers on every backend, in order; a
cluster address where nothing answers and a missing `ray` are one-line errors within seconds."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from qfin.errors import QfinError
from qfin.parallel import connect, run_jobs
from qfin.parallel._ray import parse_address
from tests.parallel.jobs import draws_reference, seeded_draws

CONFIG = {"mu": 0.05, "sigma": 0.2, "n": 1000}


def _numbers(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "pid"} for row in rows]


@pytest.mark.parametrize("workers", [1, 2])
def test_local_jobs_equal_the_reference_in_the_order_asked(workers):
    tasks = [(CONFIG, seed) for seed in (7, 3, 11, 0, 5)]
    out = run_jobs(seeded_draws, tasks, n_workers=workers, progress=False)
    assert _numbers(out) == [draws_reference(c, s) for c, s in tasks]
    if workers == 2:
        assert len({row["pid"] for row in out}) >= 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: nothing listens there


def test_an_address_that_does_not_answer_is_one_line_within_seconds():
    address = f"127.0.0.1:{_closed_port()}"
    start = time.perf_counter()
    with pytest.raises(QfinError, match=r"no Ray cluster answers at 127\.0\.0\.1:\d+ \(connection refused") as err:
        run_jobs(seeded_draws, [(CONFIG, 0)], backend="ray", address=address, progress=False)
    assert time.perf_counter() - start < 5.0
    assert "\n" not in str(err.value)


def test_ray_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(QfinError, match=r"pip install 'qfin\[ray\]'"):
        connect("127.0.0.1:6379")


def test_address_needs_the_ray_backend():
    with pytest.raises(QfinError, match="needs --backend ray"):
        run_jobs(seeded_draws, [(CONFIG, 0)], address="127.0.0.1:6379", progress=False)


@pytest.mark.parametrize(("address", "expected"), [("127.0.0.1:6379", ("127.0.0.1", 6379)),
                                                   ("ray://head:10001", ("head", 10001)),
                                                   ("ray://head", ("head", 10001)), ("auto", None)])
def test_addresses_parse(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["127.0.0.1:notaport", "http://x:1", ":6379", "h:70000"])
def test_bad_addresses_are_one_line(address):
    with pytest.raises(QfinError, match="--address"):
        parse_address(address)


@pytest.mark.slow  # ~17 s: the command loads the market and imports Ray first
def test_the_command_line_says_so_in_one_line_and_writes_nothing(tmp_path):
    import os
    import subprocess

    (tmp_path / "ivol.toml").write_text(
        'name = "ivol"\n[data]\ndataset = "sp500_stocks"\nstart = 2012-01-01\nend = 2012-12-31\n'
        'assets = ["AAPL", "KO"]\n[[strategies]]\nkind = "inverse_volatility"\nlookback = 20\n')
    port = _closed_port()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "qfin", "sweep", "ivol.toml", "--grid", "lookback=20,40",
                             "--backend", "ray", "--address", f"127.0.0.1:{port}", "--out", "out"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env=dict(os.environ, COLUMNS="200"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"--address 127.0.0.1:{port}: no Ray cluster answers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert time.perf_counter() - start < 60  # the whole command, on a loaded 2-core box; the probe itself < 3 s
    assert not (tmp_path / "out").exists()
