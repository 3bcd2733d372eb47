"""Shared helpers for the data-layer tests: small, hand-written OHLCV files."""

from __future__ import annotations

from pathlib import Path

import pytest

GOOD_ROWS = [
    # Date, Open, High, Low, Close, Volume
    ("2020-01-02", 100.0, 101.5, 99.0, 101.0, 1000),
    ("2020-01-03", 101.0, 102.0, 100.0, 100.5, 1100),
    ("2020-01-06", 100.5, 103.0, 100.25, 102.75, 1200),
    ("2020-01-07", 102.75, 104.0, 102.0, 103.5, 900),
]


def csv_text(rows, header="Date,Open,High,Low,Close,Volume") -> str:
    """A CSV with ``header`` and ``rows`` (tuples, written with str())."""
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_csv(tmp_path: Path):
    """``write_csv(rows, header=..., name="abc.csv") -> Path`` writes a small CSV under tmp_path."""

    def _write(rows=GOOD_ROWS, header="Date,Open,High,Low,Close,Volume", name="abc.csv") -> Path:
        path = tmp_path / name
        path.write_text(csv_text(rows, header), encoding="utf-8")
        return path

    return _write
