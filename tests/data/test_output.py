"""Output folders are all or nothing, never clobber a user's folder, and metrics JSON is strict."""

from __future__ import annotations

import json
import stat

import pytest

from qfin.data import staged_output, strict_json
from qfin.errors import QfinError


def test_strict_json_writes_non_finite_numbers_as_null():
    text = strict_json({"flat": {"sharpe": float("nan"), "calmar": float("inf"), "cagr": 0.0}, "xs": [float("-inf")]})
    assert json.loads(text) == {"flat": {"sharpe": None, "calmar": None, "cagr": 0.0}, "xs": [None]}
    assert "NaN" not in text and "Infinity" not in text


def test_completed_output_replaces_the_folder_and_is_world_readable(tmp_path):
    out = tmp_path / "run"
    with staged_output(out, "metrics.json") as staging:
        (staging / "metrics.json").write_text("{}")
    assert (out / "metrics.json").exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_an_error_leaves_neither_output_nor_staging(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with staged_output(out, "metrics.json") as staging:
            (staging / "equity.parquet").write_bytes(b"half")
            raise RuntimeError("plot failed")
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_non_empty_folder_is_never_replaced(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    with pytest.raises(QfinError, match="not a qfin output"):
        with staged_output(out, "metrics.json"):
            pass
    assert (out / "chapter1.tex").read_text() == "precious"
