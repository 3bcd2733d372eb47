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


def _previous_run(tmp_path):
    out = tmp_path / "run"
    with staged_output(out, "metrics.json") as staging:
        (staging / "metrics.json").write_text('{"run": 1}')
    return out


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic_exchange", "rename_aside"])
def test_a_rerun_replaces_the_previous_output_and_leaves_nothing_beside_it(tmp_path, monkeypatch, exchange):
    import qfin.data._output as output

    out = _previous_run(tmp_path)
    if not exchange:
        monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    with staged_output(out, "metrics.json") as staging:
        (staging / "metrics.json").write_text('{"run": 2}')
    assert json.loads((out / "metrics.json").read_text()) == {"run": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_the_swap_is_one_atomic_exchange_on_linux(tmp_path):
    import qfin.data._output as output

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not output._exchange(a, b):
        pytest.skip("this OS or filesystem has no renameat2(RENAME_EXCHANGE); the rename-aside path is used")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic_exchange", "rename_aside"])
def test_a_kill_while_deleting_the_old_output_never_loses_the_new_one(tmp_path, monkeypatch, exchange):
    import qfin.data._output as output

    out = _previous_run(tmp_path)
    staging = tmp_path / ".run.staging"
    staging.mkdir()
    (staging / "metrics.json").write_text('{"run": 2}')
    if not exchange:
        monkeypatch.setattr(output, "_exchange", lambda a, b: False)

    def rmtree_that_dies(path, ignore_errors=False):
        raise KeyboardInterrupt("killed while deleting the previous results")

    monkeypatch.setattr(output.shutil, "rmtree", rmtree_that_dies)
    with pytest.raises(KeyboardInterrupt):
        output._swap_in(staging, out)
    assert json.loads((out / "metrics.json").read_text()) == {"run": 2}
